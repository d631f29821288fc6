"""The chat templates Fathom ships for DeepSeek models serving tools (configs/chat-templates):
``fathom chat-render`` renders them byte for byte as Jinja2 does in transformers' environment,
and where a conversation has nothing the model's own template leaves out (tool definitions for
all three; tool messages for V3 and R1, whose own templates mis-close calls) they render what
the model's own template renders. The templates' call format parsing back into the calls is
checked in C++ (reply_parser_test.cpp).
"""

from __future__ import annotations

import json
import subprocess

import pytest

from conftest import REPO, fathom_bin, render_like_transformers

SHARED_TOKENIZER = REPO.parent / "shared" / "models" / "deepseek-v3-tokenizer"
MODEL_TEMPLATES = REPO / "tests" / "tokenizer" / "data" / "templates"
SHIPPED = REPO / "configs" / "chat-templates"

TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "description": "Weather now, in °C.",
                                      "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                     "required": ["city"]}}},
    {"type": "function", "function": {"name": "now"}},
]
ONE_CALL = [{"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]
TWO_CALLS = ONE_CALL + [{"id": "c2", "type": "function", "function": {"name": "now", "arguments": "{}"}}]

CONVERSATIONS = [
    [{"role": "user", "content": "Hi"}],
    [{"role": "system", "content": "Be brief."}, {"role": "system", "content": "Really."},
     {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "<think>greet</think>Hello!"},
     {"role": "user", "content": "多语言 🚀"}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Weather?"},
     {"role": "assistant", "content": None, "tool_calls": ONE_CALL},
     {"role": "tool", "tool_call_id": "c1", "content": "21"}],
    [{"role": "user", "content": "Weather?"}, {"role": "assistant", "content": None, "tool_calls": ONE_CALL},
     {"role": "tool", "tool_call_id": "c1", "content": "21"}, {"role": "assistant", "content": "It is 21."},
     {"role": "user", "content": "And the time?"}, {"role": "assistant", "content": None, "tool_calls": TWO_CALLS},
     {"role": "tool", "content": "22"}, {"role": "tool", "content": "noon"},
     {"role": "assistant", "content": "22 at noon."}],
]


def model_template(name: str) -> str:
    if name == "deepseek-v3":
        return json.loads((SHARED_TOKENIZER / "tokenizer_config.json").read_text())["chat_template"]
    return (MODEL_TEMPLATES / f"{name}.jinja").read_text()


def bos_token() -> str:
    config = json.loads((SHARED_TOKENIZER / "tokenizer_config.json").read_text())
    bos = config["bos_token"]
    return bos["content"] if isinstance(bos, dict) else bos


def cases(model: str) -> list[dict]:
    out = []
    for messages in CONVERSATIONS:
        for tools in (None, TOOLS):
            for add_generation_prompt in (True, False):
                case = {"messages": messages, "add_generation_prompt": add_generation_prompt}
                if tools:
                    case["tools"] = tools
                if model == "deepseek-v3.1":
                    case["chat_template_kwargs"] = {"thinking": add_generation_prompt}
                out.append(case)
    return out


def fathom_renders(template, lines: list[dict], tmp_path) -> list[str]:
    jsonl = tmp_path / "cases.jsonl"
    jsonl.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines))
    result = subprocess.run([fathom_bin(), "chat-render", "--tokenizer", str(SHARED_TOKENIZER), "--jsonl", str(jsonl),
                             "--chat-template", str(template)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return [json.loads(line)["rendered"] for line in result.stdout.splitlines()]


def jinja2_render(source: str, case: dict) -> str:
    return render_like_transformers(source, messages=case["messages"], tools=case.get("tools"), documents=None,
                                    add_generation_prompt=case["add_generation_prompt"], bos_token=bos_token(),
                                    **case.get("chat_template_kwargs", {}))


@pytest.mark.parametrize("model", ["deepseek-v3", "deepseek-r1", "deepseek-v3.1"])
def test_shipped_tool_templates(model, tmp_path):
    shipped = SHIPPED / f"{model}-tools.jinja"
    source = shipped.read_text()
    lines = cases(model)
    rendered = fathom_renders(shipped, lines, tmp_path)
    assert len(rendered) == len(lines)
    own = model_template(model)
    compared = 0
    for case, got in zip(lines, rendered):
        assert got == jinja2_render(source, case), case
        has_tool_messages = any(m["role"] == "tool" or m.get("tool_calls") for m in case["messages"])
        if "tools" in case:
            assert "## Tools" in got and "### get_weather" in got and "### now" in got
            assert json.dumps(TOOLS[0]["function"]["parameters"]) in got
        elif model == "deepseek-v3.1" or not has_tool_messages:
            assert got == jinja2_render(own, case), case
            compared += 1
    assert compared >= 4


def test_a_server_with_a_shipped_template_takes_tools(start_server, tmp_path):
    # DeepSeek's own templates never read tools, so a request with tools is refused (400); served
    # with the shipped template, the prompt is what chat-render gives.
    server = start_server(extra_args=["--chat-template", str(SHIPPED / "deepseek-v3-tools.jinja")])
    messages = CONVERSATIONS[2]
    status, got = server.post_json("/tokenize", {"messages": messages, "tools": TOOLS})
    assert status == 200, got
    [text] = fathom_renders(SHIPPED / "deepseek-v3-tools.jinja",
                            [{"messages": messages, "tools": TOOLS, "add_generation_prompt": True}], tmp_path)
    status, want = server.post_json("/tokenize", {"prompt": text, "add_special_tokens": False})
    assert status == 200, want
    assert got["tokens"] == want["tokens"]
