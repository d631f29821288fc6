"""End-to-end tests of ``fathom serve`` on the demo model: the official ``openai`` client
unchanged (chat, completions, streaming, errors), 8 concurrent greedy requests against the same
requests alone, and raw HTTP for what a client library would never send (malformed JSON,
oversize bodies, a client that leaves mid-stream, a full queue).

The demo model has random weights, so outputs are compared token for token, never read.
"""

from __future__ import annotations

import http.client
import json
import math
import signal
import socket
import threading
import time

import jsonschema
import openai
import pytest

from conftest import HTTP_TIMEOUT_S, REPO, ServerProcess, render_like_transformers

# Greedy and long enough that the requests of a batch overlap; ignore_eos (a Fathom extension,
# as in vLLM) makes every length exact, return_token_ids lets outputs be compared token by token.
GREEDY = {"temperature": 0, "max_tokens": 24}
EXACT = {"ignore_eos": True, "return_token_ids": True}


def chat(client: openai.OpenAI, model: str, content: str, **kwargs):
    return client.chat.completions.create(model=model, messages=[{"role": "user", "content": content}], **kwargs)


def assert_openai_error(status: int, body: dict, expected_status: int, param: str | None = None,
                        code: str | None = None) -> None:
    assert status == expected_status, body
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}, body
    assert isinstance(error["message"], str) and error["message"]
    if param is not None:
        assert error["param"] == param, body
    if code is not None:
        assert error["code"] == code, body


def assert_serves(server: ServerProcess) -> None:
    """The server still answers a good request after whatever the test did."""
    reply = chat(server.client(), server.model_id, "still there?", max_tokens=2, temperature=0)
    assert reply.choices[0].message.role == "assistant"
    assert reply.usage.completion_tokens >= 1


class RawStream:
    """A streaming request on a raw socket, for leaving in the middle of it."""

    def __init__(self, server: ServerProcess, payload: dict, path: str = "/v1/chat/completions"):
        body = json.dumps({**payload, "stream": True}).encode()
        self.sock = socket.create_connection((server.host, server.port), timeout=HTTP_TIMEOUT_S)
        head = (f"POST {path} HTTP/1.1\r\nHost: {server.host}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        self.sock.sendall(head + body)
        self.received = b""

    def read_until(self, marker: bytes, count: int = 1) -> bytes:
        while self.received.count(marker) < count:
            data = self.sock.recv(4096)
            if not data:
                raise AssertionError(f"connection closed before {marker!r}: {self.received[:500]!r}")
            self.received += data
        return self.received

    def read_tokens(self) -> None:
        """Returns once generation is under way: past the opening chunk, at a token chunk."""
        self.read_until(b"data: ", count=2)

    def close(self) -> None:
        self.sock.close()


# --- the openai client, unchanged -----------------------------------------------------------


def test_health_and_models(server):
    health = server.health()
    assert health["status"] == "ok"
    assert health["model"] == server.model_id
    for key in ("running", "waiting", "completed", "cancelled", "failed"):
        assert isinstance(health[key], int)

    models = server.client().models.list()
    assert [m.id for m in models.data] == [server.model_id]
    assert models.data[0].object == "model"
    assert server.client().models.retrieve(server.model_id).id == server.model_id
    with pytest.raises(openai.NotFoundError):
        server.client().models.retrieve("no-such-model")


def test_chat_completion(server):
    reply = chat(server.client(), server.model_id, "Hello!", **GREEDY, extra_body=EXACT)
    assert reply.object == "chat.completion"
    assert reply.id.startswith("chatcmpl-")
    assert reply.model == server.model_id
    assert len(reply.choices) == 1
    choice = reply.choices[0]
    assert choice.index == 0
    assert choice.message.role == "assistant"
    assert choice.finish_reason == "length"
    assert reply.usage.completion_tokens == GREEDY["max_tokens"]
    assert len(choice.token_ids) == GREEDY["max_tokens"]
    # The chat template wraps the text: BOS, the user marker, the text, the assistant marker.
    assert reply.usage.prompt_tokens > len("Hello!")
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens
    # Greedy: the same request, the same answer.
    again = chat(server.client(), server.model_id, "Hello!", **GREEDY, extra_body=EXACT)
    assert again.choices[0].token_ids == choice.token_ids
    assert again.choices[0].message.content == choice.message.content


def test_chat_without_extensions_or_max_tokens(server):
    # Exactly what an ordinary OpenAI program sends; the length comes from [generation].
    reply = chat(server.client(), server.model_id, "Hi")
    assert reply.choices[0].finish_reason in ("stop", "length")
    assert 1 <= reply.usage.completion_tokens <= 16
    assert isinstance(reply.choices[0].message.content, str)


def test_chat_streaming_matches_non_streaming(server):
    whole = chat(server.client(), server.model_id, "Tell me a story.", **GREEDY, extra_body=EXACT)
    stream = chat(server.client(), server.model_id, "Tell me a story.", **GREEDY, extra_body=EXACT, stream=True,
                  stream_options={"include_usage": True})
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert all(c.id == chunks[0].id and c.object == "chat.completion.chunk" for c in chunks)
    choice_chunks = [c for c in chunks if c.choices]
    text = "".join(c.choices[0].delta.content or "" for c in choice_chunks)
    token_ids = [t for c in choice_chunks for t in (getattr(c.choices[0], "token_ids", None) or [])]
    assert text == whole.choices[0].message.content
    assert token_ids == whole.choices[0].token_ids
    assert [c.choices[0].finish_reason for c in choice_chunks if c.choices[0].finish_reason] == ["length"]
    # include_usage: one last chunk without choices carries the counts.
    assert chunks[-1].choices == []
    assert chunks[-1].usage.completion_tokens == GREEDY["max_tokens"]
    assert chunks[-1].usage.prompt_tokens == whole.usage.prompt_tokens


def test_continuous_usage_stats(server):
    # vLLM's stream_options.continuous_usage_stats: every chunk carries its choice's usage so far,
    # ending at the final usage chunk's counts.
    status, body = server.post_json("/tokenize", {"prompt": "Count", "add_special_tokens": True})
    assert status == 200
    chunks = list(server.client().completions.create(
        model=server.model_id, prompt="Count", max_tokens=6, temperature=0, stream=True, n=2,
        stream_options={"include_usage": True, "continuous_usage_stats": True}, extra_body={"ignore_eos": True}))
    final = chunks[-1].usage
    assert final.completion_tokens == 12 and not chunks[-1].choices
    seen = {0: 0, 1: 0}
    for chunk in chunks[:-1]:
        usage, index = chunk.usage, chunk.choices[0].index
        assert usage.prompt_tokens == body["count"] == final.prompt_tokens
        assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
        assert usage.completion_tokens >= seen[index]
        seen[index] = usage.completion_tokens
    assert seen == {0: 6, 1: 6}


def test_stream_without_usage_ends_with_done(server):
    status, body = server.request("POST", "/v1/chat/completions", json.dumps({
        "model": server.model_id, "messages": [{"role": "user", "content": "x"}], "max_tokens": 3,
        "stream": True}), {"Content-Type": "application/json"})
    assert status == 200
    events = [e for e in body.decode().split("\n\n") if e]
    assert all(e.startswith("data: ") for e in events), events
    assert events[-1] == "data: [DONE]"
    payloads = [json.loads(e[len("data: "):]) for e in events[:-1]]
    assert all("usage" not in p for p in payloads)
    assert payloads[-1]["choices"][0]["finish_reason"] in ("stop", "length")


def test_completions(server):
    client = server.client()
    reply = client.completions.create(model=server.model_id, prompt="The sea", **GREEDY, extra_body=EXACT)
    assert reply.object == "text_completion"
    assert reply.id.startswith("cmpl-")
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage.completion_tokens == GREEDY["max_tokens"]
    # The byte-level demo tokenizer: BOS plus one token per byte.
    assert reply.usage.prompt_tokens == 1 + len("The sea")

    streamed = client.completions.create(model=server.model_id, prompt="The sea", **GREEDY, extra_body=EXACT,
                                         stream=True)
    chunks = list(streamed)
    assert "".join(c.choices[0].text for c in chunks) == reply.choices[0].text
    assert chunks[-1].choices[0].finish_reason == "length"


def assert_greedy_top(chosen_logprob: float, top: list[float]) -> None:
    """Greedy: the chosen token is the most likely; the alternatives are sorted, and are
    probabilities of distinct tokens."""
    assert chosen_logprob <= 0
    assert top[0] == chosen_logprob
    assert top == sorted(top, reverse=True)
    assert sum(math.exp(t) for t in top) <= 1 + 1e-5


def test_chat_logprobs(server):
    kwargs = {**GREEDY, "extra_body": EXACT, "logprobs": True, "top_logprobs": 3}
    whole = chat(server.client(), server.model_id, "Hello!", **kwargs)
    choice = whole.choices[0]
    entries = choice.logprobs.content
    # One entry per generated token.
    assert len(entries) == whole.usage.completion_tokens == len(choice.token_ids)
    for e in entries:
        assert len(e.top_logprobs) == 3
        assert e.top_logprobs[0].token == e.token and e.top_logprobs[0].bytes == e.bytes
        assert_greedy_top(e.logprob, [t.logprob for t in e.top_logprobs])
    joined = b"".join(bytes(e.bytes) for e in entries)
    try:
        assert joined.decode("utf-8") == choice.message.content
    except UnicodeDecodeError:
        pass  # random weights picked bytes that are not UTF-8: the text shows U+FFFD for them

    # A stream carries the same entries, a chunk per token.
    stream = chat(server.client(), server.model_id, "Hello!", **kwargs, stream=True)
    streamed = [e for c in stream if c.choices and c.choices[0].logprobs for e in c.choices[0].logprobs.content]
    assert [(e.token, e.logprob, e.bytes) for e in streamed] == [(e.token, e.logprob, e.bytes) for e in entries]

    # Without top_logprobs: the chosen tokens only; without logprobs: none.
    bare = chat(server.client(), server.model_id, "Hello!", **{**kwargs, "top_logprobs": None})
    assert [e.logprob for e in bare.choices[0].logprobs.content] == [e.logprob for e in entries]
    assert all(e.top_logprobs == [] for e in bare.choices[0].logprobs.content)
    assert chat(server.client(), server.model_id, "Hello!", **GREEDY).choices[0].logprobs is None


def test_completion_logprobs(server):
    client = server.client()
    kwargs = {"model": server.model_id, "prompt": "The sea", **GREEDY, "extra_body": EXACT, "logprobs": 2}
    whole = client.completions.create(**kwargs)
    lp = whole.choices[0].logprobs
    n = whole.usage.completion_tokens
    assert len(lp.tokens) == len(lp.token_logprobs) == len(lp.top_logprobs) == len(lp.text_offset) == n
    for chosen, top in zip(lp.token_logprobs, lp.top_logprobs):
        assert 1 <= len(top) <= 2  # two alternatives, fewer where both decode to the same text
        assert_greedy_top(chosen, sorted(top.values(), reverse=True))
    assert lp.text_offset[0] == 0
    assert lp.text_offset == sorted(lp.text_offset)

    streamed = list(client.completions.create(**kwargs, stream=True))
    pieces = [c.choices[0].logprobs for c in streamed if c.choices[0].logprobs]
    assert [t for p in pieces for t in p.tokens] == lp.tokens
    assert [o for p in pieces for o in p.text_offset] == lp.text_offset, "offsets carry on across chunks"


def test_n_choices_are_the_seeded_single_requests(server):
    client = server.client()
    kwargs = {"max_tokens": 12, "temperature": 0.9, "seed": 5, "extra_body": EXACT}
    reply = chat(client, server.model_id, "Pick a word.", n=3, **kwargs)
    assert [c.index for c in reply.choices] == [0, 1, 2]
    assert all(c.finish_reason == "length" and len(c.token_ids) == 12 for c in reply.choices)
    assert reply.usage.completion_tokens == 36
    # Choice i samples with seed + i: exactly what the single request with that seed gives.
    for i, c in enumerate(reply.choices):
        alone = chat(client, server.model_id, "Pick a word.", **{**kwargs, "seed": 5 + i})
        assert c.token_ids == alone.choices[0].token_ids, f"choice {i}"
        assert reply.usage.prompt_tokens == alone.usage.prompt_tokens, "the prompt is counted once"
    assert len({tuple(c.token_ids) for c in reply.choices}) > 1, "three samples, all the same"
    # The choices share their prompt's prefill: the first prefills it, the others copy its cache
    # entries (all but the last prompt position, whose logits each computes).
    before = server.health()["prompt_tokens_cached"]
    long = chat(client, server.model_id, "A longer question, so that sharing its prefill pays: " + "why " * 8, n=3,
                **kwargs)
    first_cached = long.usage.prompt_tokens_details.cached_tokens
    assert server.health()["prompt_tokens_cached"] - before == first_cached + 2 * (long.usage.prompt_tokens - 1)
    # Greedy choices are all the greedy answer.
    greedy = chat(client, server.model_id, "Pick a word.", n=2, **{**kwargs, "temperature": 0})
    assert greedy.choices[0].token_ids == greedy.choices[1].token_ids


def test_n_choices_stream(server):
    kwargs = {"max_tokens": 10, "temperature": 0.9, "seed": 11, "extra_body": EXACT}
    whole = chat(server.client(), server.model_id, "Two tries.", n=2, **kwargs)
    chunks = list(chat(server.client(), server.model_id, "Two tries.", n=2, **kwargs, stream=True,
                       stream_options={"include_usage": True}))
    choice_chunks = [c for c in chunks if c.choices]
    for i in range(2):
        mine = [c.choices[0] for c in choice_chunks if c.choices[0].index == i]
        assert mine[0].delta.role == "assistant"
        assert "".join(m.delta.content or "" for m in mine) == whole.choices[i].message.content
        assert [t for m in mine for t in (getattr(m, "token_ids", None) or [])] == whole.choices[i].token_ids
        assert [m.finish_reason for m in mine if m.finish_reason] == ["length"]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 20

    completion = server.client().completions.create(model=server.model_id, prompt="The sea", n=2, logprobs=1,
                                                    **kwargs)
    assert [c.index for c in completion.choices] == [0, 1]
    assert all(len(c.logprobs.tokens) == 10 for c in completion.choices)


def test_echo_scores_the_prompt_like_generation_does(server):
    """lm-eval's loglikelihood request: token ids, echo, logprobs, no new tokens. The prompt's
    scores are what generating those same tokens reported (a prefill's rows against decode
    steps, so equal to float rounding)."""
    client = server.client()
    status, tok = server.post_json("/tokenize", {"prompt": "Once upon a time"})
    context = tok["tokens"]
    generated = client.completions.create(model=server.model_id, prompt=context, max_tokens=6, temperature=0,
                                          logprobs=1, extra_body=EXACT)
    continuation = generated.choices[0].token_ids
    scored = client.completions.create(model=server.model_id, prompt=context + continuation, max_tokens=0, echo=True,
                                       logprobs=1, temperature=0)
    choice = scored.choices[0]
    lp = choice.logprobs
    assert len(lp.tokens) == len(context) + len(continuation)
    assert lp.token_logprobs[0] is None and lp.top_logprobs[0] is None
    assert all(x <= 0 for x in lp.token_logprobs[1:])
    for got, want in zip(lp.token_logprobs[len(context):], generated.choices[0].logprobs.token_logprobs):
        assert got == pytest.approx(want, abs=1e-4)
    # Greedy tokens are their position's most likely (lm-eval's is_greedy).
    assert all(t == max(top.values()) for t, top in zip(lp.token_logprobs[len(context):], lp.top_logprobs[len(context):]))
    status, text = server.post_json("/detokenize", {"tokens": context + continuation})
    assert choice.text == text["prompt"] and choice.finish_reason == "length"
    assert scored.usage.completion_tokens == 0

    # One new token, as lm-eval sends it too: the prompt's entries, then the token's.
    plus_one = client.completions.create(model=server.model_id, prompt=context, max_tokens=1, echo=True, logprobs=1,
                                         temperature=0, extra_body=EXACT)
    assert len(plus_one.choices[0].logprobs.tokens) == len(context) + 1
    assert plus_one.choices[0].token_ids == continuation[:1]
    # Streamed: the prompt comes first, in one chunk with its entries.
    chunks = list(client.completions.create(model=server.model_id, prompt=context, max_tokens=2, echo=True,
                                            logprobs=1, temperature=0, stream=True))
    first = chunks[0].choices[0]
    status, context_text = server.post_json("/detokenize", {"tokens": context})
    assert first.text == context_text["prompt"] and len(first.logprobs.tokens) == len(context)
    streamed = [t for c in chunks if c.choices[0].logprobs for t in c.choices[0].logprobs.token_logprobs]
    assert len(streamed) == len(context) + 2
    assert streamed[1:len(context)] == pytest.approx(lp.token_logprobs[1:len(context)], abs=1e-4)


def test_several_prompts_are_each_answered_as_alone(server):
    """OpenAI's batch form (lm-eval's local-completions sends it): a list of prompts, n choices
    each; choice p*n + i is prompt p's i-th, exactly what that prompt alone gives, and the usage
    counts every prompt once."""
    client = server.client()
    prompts = ["The sea", "Once upon", "A"]
    kwargs = {"max_tokens": 8, "temperature": 0.9, "seed": 3, "extra_body": EXACT}
    batch = client.completions.create(model=server.model_id, prompt=prompts, n=2, **kwargs)
    assert [c.index for c in batch.choices] == list(range(6))
    prompt_tokens = 0
    for p, prompt in enumerate(prompts):
        alone = client.completions.create(model=server.model_id, prompt=prompt, n=2, **kwargs)
        for i in range(2):
            assert batch.choices[2 * p + i].token_ids == alone.choices[i].token_ids, (p, i)
            assert batch.choices[2 * p + i].text == alone.choices[i].text, (p, i)
        prompt_tokens += alone.usage.prompt_tokens
    assert batch.usage.prompt_tokens == prompt_tokens
    assert batch.usage.completion_tokens == 6 * 8

    # Token-id prompts with echo and logprobs (lm-eval's loglikelihood batch): each choice
    # echoes and scores its own prompt.
    status, a = server.post_json("/tokenize", {"prompt": "one two"})
    status, b = server.post_json("/tokenize", {"prompt": "three"})
    scored = client.completions.create(model=server.model_id, prompt=[a["tokens"], b["tokens"]], max_tokens=0,
                                       echo=True, logprobs=1, temperature=0)
    for choice, ids in zip(scored.choices, [a["tokens"], b["tokens"]]):
        single = client.completions.create(model=server.model_id, prompt=ids, max_tokens=0, echo=True, logprobs=1,
                                           temperature=0)
        assert choice.text == single.choices[0].text
        assert choice.logprobs.tokens == single.choices[0].logprobs.tokens
        assert choice.logprobs.token_logprobs[1:] == pytest.approx(single.choices[0].logprobs.token_logprobs[1:],
                                                                   abs=1e-4)

    # Streamed: every choice's chunks carry its index, and together they are the whole reply.
    chunks = list(client.completions.create(model=server.model_id, prompt=prompts, n=2, stream=True,
                                            stream_options={"include_usage": True}, **kwargs))
    for index, whole in enumerate(batch.choices):
        mine = [c.choices[0] for c in chunks if c.choices and c.choices[0].index == index]
        assert "".join(m.text for m in mine) == whole.text, index
        assert [m.finish_reason for m in mine if m.finish_reason] == ["length"]
    assert chunks[-1].usage.prompt_tokens == prompt_tokens

    # One prompt too long for an explicit max_tokens: a 400 naming it, and nothing runs.
    status, body = server.post_json("/v1/completions", {"model": server.model_id, "prompt": ["hi", "x" * 5000],
                                                         "max_tokens": 4})
    assert_openai_error(status, body, 400, code="context_length_exceeded")
    assert body["error"]["message"].startswith("prompt[1]: ")
    assert_serves(server)


def test_responses_api(server):
    """OpenAI's Responses API: the same text as the chat completion it translates to, whole or
    streamed as typed events, with instructions, function calls and their outputs, and schemas."""
    client = server.client()
    reply = client.responses.create(model=server.model_id, input="Hello!", instructions="Be brief.",
                                    max_output_tokens=12, temperature=0, extra_body={"ignore_eos": True})
    same = client.chat.completions.create(model=server.model_id, max_tokens=12, temperature=0,
                                          extra_body={"ignore_eos": True},
                                          messages=[{"role": "system", "content": "Be brief."},
                                                    {"role": "user", "content": "Hello!"}])
    assert reply.object == "response" and reply.id.startswith("resp_")
    assert reply.output_text == same.choices[0].message.content
    assert reply.status == "incomplete" and reply.incomplete_details.reason == "max_output_tokens"
    assert reply.usage.input_tokens == same.usage.prompt_tokens and reply.usage.output_tokens == 12
    assert reply.output[0].type == "message" and reply.output[0].role == "assistant"

    # Streamed: typed events in order, whose deltas are the whole reply's text.
    events = list(client.responses.create(model=server.model_id, input="Hello!", instructions="Be brief.",
                                          max_output_tokens=12, temperature=0, stream=True,
                                          extra_body={"ignore_eos": True}))
    types = [e.type for e in events]
    assert types[:2] == ["response.created", "response.in_progress"]
    assert types[-1] == "response.incomplete"
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == reply.output_text
    assert events[-1].response.output_text == reply.output_text
    assert events[-1].response.usage.output_tokens == 12

    # A conversation with a call and its output, as items; the chat template renders them.
    items = [{"role": "user", "content": [{"type": "input_text", "text": "Weather?"}]},
             {"type": "function_call", "call_id": "call_1", "name": "weather", "arguments": '{"city": "Oslo"}'},
             {"type": "function_call_output", "call_id": "call_1", "output": "12 C"},
             {"type": "reasoning", "id": "rs_1", "summary": []}]
    conversation = client.responses.create(model=server.model_id, input=items, max_output_tokens=4, temperature=0)
    assert conversation.usage.input_tokens > 0

    # A schema through text.format: the output validates.
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"], "additionalProperties": False}
    structured = client.responses.create(model=server.model_id, input="A number:", max_output_tokens=60, temperature=0,
                                         text={"format": {"type": "json_schema", "name": "n", "schema": schema}})
    if structured.status == "completed":
        jsonschema.validate(json.loads(structured.output_text), schema)

    # What Fathom cannot do is a 400 naming the Responses field.
    for body, param in [({"input": "x", "previous_response_id": "resp_unknown"}, "previous_response_id"),
                        ({"input": "x", "conversation": "conv_1"}, "conversation"),
                        ({"input": "x", "store": "yes"}, "store"),
                        ({"input": "x", "tools": [{"type": "web_search"}]}, "tools"),
                        ({"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "x"}]}]}, "input"),
                        ({"input": "x", "max_output_tokens": 0}, "max_output_tokens"),
                        ({}, "input")]:
        status, error = server.post_json("/v1/responses", {"model": server.model_id, **body})
        assert_openai_error(status, error, 400, param=param)
    assert_serves(server)


def test_responses_are_stored_and_continued(server):
    """`store` (the default) keeps a response: retrieved and deleted by id, and continued with
    previous_response_id exactly as if the whole conversation were sent again (its instructions
    do not carry over, as in OpenAI's API); a streamed response is stored once it ends."""
    client = server.client()
    common = dict(model=server.model_id, max_output_tokens=8, temperature=0, extra_body={"ignore_eos": True})
    first = client.responses.create(input="Hello!", instructions="Be brief.", **common)
    assert first.store is True
    assert client.responses.retrieve(first.id).model_dump() == first.model_dump()

    second = client.responses.create(input="And then?", previous_response_id=first.id, **common)
    assert second.previous_response_id == first.id
    spelled_out = client.responses.create(
        input=[{"role": "user", "content": "Hello!"},
               {"role": "assistant", "content": [{"type": "output_text", "text": first.output_text}]},
               {"role": "user", "content": "And then?"}], **common)
    assert second.output_text == spelled_out.output_text
    assert second.usage.input_tokens == spelled_out.usage.input_tokens

    # A chain of three: the third sees both earlier turns.
    third = client.responses.create(input="Why?", previous_response_id=second.id, **common)
    spelled_out = client.responses.create(
        input=[{"role": "user", "content": "Hello!"},
               {"role": "assistant", "content": [{"type": "output_text", "text": first.output_text}]},
               {"role": "user", "content": "And then?"},
               {"role": "assistant", "content": [{"type": "output_text", "text": second.output_text}]},
               {"role": "user", "content": "Why?"}], **common)
    assert third.output_text == spelled_out.output_text
    assert third.usage.input_tokens == spelled_out.usage.input_tokens

    # Its input items: the five turns that led to it, newest first unless asked otherwise, paged.
    texts = lambda page: [(i.role, i.content[0].text) for i in page.data]  # noqa: E731
    turns = [("user", "Hello!"), ("assistant", first.output_text), ("user", "And then?"),
             ("assistant", second.output_text), ("user", "Why?")]
    assert texts(client.responses.input_items.list(third.id)) == turns[::-1]
    assert texts(client.responses.input_items.list(third.id, order="asc")) == turns
    page = client.responses.input_items.list(third.id, order="asc", limit=2)
    assert texts(page) == turns[:2] and page.has_more
    rest = client.responses.input_items.list(third.id, order="asc", after=page.data[-1].id)
    assert texts(rest) == turns[2:] and not rest.has_more
    status, error = server.request("GET", f"/v1/responses/{third.id}/input_items?limit=500")
    assert status == 400 and json.loads(error)["error"]["param"] == "limit"

    streamed = list(client.responses.create(input="Hello!", stream=True, **common))
    done = streamed[-1].response
    assert client.responses.retrieve(done.id).output_text == done.output_text

    unstored = client.responses.create(input="Hello!", store=False, **common)
    assert unstored.store is False
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(unstored.id)

    client.responses.delete(first.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(first.id)
    with pytest.raises(openai.BadRequestError) as refused:
        client.responses.create(input="More.", previous_response_id=first.id, **common)
    assert refused.value.body["param"] == "previous_response_id"
    # The continuation made before the delete keeps its own copy of the conversation.
    assert client.responses.create(input="More.", previous_response_id=second.id, **common).status == "incomplete"
    assert_serves(server)


def start_calls_server(start_server, tmp_path) -> tuple[ServerProcess, int]:
    """A server whose chat template names the tools and renders calls in DeepSeek-V3's format
    (the byte-level demo prompt stays short), and the id of the calls' opening marker."""
    template = tmp_path / "calls.jinja"
    template.write_text(
        "{{ bos_token }}{% for t in tools or [] %}{{ t.function.name }} {% endfor %}"
        "{% for m in messages %}{% if m.tool_calls %}<｜tool▁calls▁begin｜>{% for c in m.tool_calls %}"
        "{% if not loop.first %}\n{% endif %}<｜tool▁call▁begin｜>function<｜tool▁sep｜>{{ c.function.name }}"
        "\n```json\n{{ c.function.arguments }}\n```<｜tool▁call▁end｜>{% endfor %}<｜tool▁calls▁end｜>"
        "{% else %}{{ m.content }}{% endif %}{% endfor %}")
    server = start_server(extra_args=["--chat-template", str(template)])
    status, ids = server.post_json("/tokenize", {"prompt": "<｜tool▁calls▁begin｜>", "add_special_tokens": False})
    assert status == 200 and len(ids["tokens"]) == 1, ids
    return server, ids["tokens"][0]


def test_responses_api_function_calls(start_server, tmp_path):
    # Strict function tools, made to call by a bias on the calls' marker (see the strict tools
    # test): the calls come back as function_call items, whole and streamed.
    server, marker = start_calls_server(start_server, tmp_path)
    client = server.client()
    tools = [{"type": "function", "name": "add", "strict": True,
              "parameters": {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
                             "required": ["a", "b"], "additionalProperties": False}}]
    kwargs = dict(model=server.model_id, input="1+2?", tools=tools, max_output_tokens=250, temperature=1.0)
    finished = 0
    for seed in range(1, 7):
        extra = {"logit_bias": {str(marker): 100}, "seed": seed}
        whole = client.responses.create(**kwargs, extra_body=extra)
        calls = [item for item in whole.output if item.type == "function_call"]
        if whole.status != "completed":
            continue
        finished += 1
        assert calls and all(c.name == "add" and c.call_id.startswith("call_") for c in calls)
        for c in calls:
            jsonschema.validate(json.loads(c.arguments), tools[0]["parameters"])
        events = list(client.responses.create(**kwargs, stream=True, extra_body=extra))
        done = [e.item for e in events if e.type == "response.output_item.done" and e.item.type == "function_call"]
        assert [(c.name, c.arguments) for c in done] == [(c.name, c.arguments) for c in calls]
        deltas = "".join(e.delta for e in events if e.type == "response.function_call_arguments.delta")
        assert deltas == "".join(c.arguments for c in calls)
    assert finished > 0, "no call finished"


def test_completions_from_token_ids(server):
    # What "abc" encodes to with the byte-level demo tokenizer (BOS, then one token per byte),
    # given as ids, completes exactly as the text does.
    client = server.client()
    by_text = client.completions.create(model=server.model_id, prompt="abc", **GREEDY, extra_body=EXACT)
    tokenizer = json.loads((server.model_dir / "tokenizer.json").read_text())
    bos_id = next(t["id"] for t in tokenizer["added_tokens"] if "begin" in t["content"])
    prompt_ids = [bos_id] + [tokenizer["model"]["vocab"][c] for c in "abc"]
    by_ids = client.completions.create(model=server.model_id, prompt=prompt_ids, **GREEDY, extra_body=EXACT)
    assert by_ids.usage.prompt_tokens == by_text.usage.prompt_tokens == 4
    assert by_ids.choices[0].token_ids == by_text.choices[0].token_ids


def test_seed_makes_sampling_reproducible(server):
    client = server.client()
    params = dict(temperature=1.0, top_p=0.9, max_tokens=24, seed=1234, extra_body=EXACT)
    first = chat(client, server.model_id, "Surprise me", **params)
    second = chat(client, server.model_id, "Surprise me", **params)
    assert first.choices[0].token_ids == second.choices[0].token_ids


@pytest.mark.parametrize("method", ["mtp", "ngram"])
def test_speculation_gives_the_same_tokens(server, start_server, method):
    # A server drafting (with the MTP module, or by prompt lookup) answers exactly as the plain
    # one, greedy and sampled, and /health counts the drafts it verified.
    speculative = start_server(extra_args=["--speculative", method])
    for params in (GREEDY, dict(temperature=1.0, top_p=0.9, max_tokens=24, seed=77)):
        plain = chat(server.client(), server.model_id, "Tell me more", **params, extra_body=EXACT)
        drafted = chat(speculative.client(), speculative.model_id, "Tell me more", **params, extra_body=EXACT)
        assert drafted.choices[0].token_ids == plain.choices[0].token_ids
    health = speculative.health()
    assert health["speculative"] == method
    assert health["drafts"] > 0
    assert server.health()["speculative"] == "off"
    # /metrics splits the drafts by place in a step's drafts; the places add up to the total.
    status, body = speculative.request("GET", "/metrics")
    text = body.decode()
    by_place = [line for line in text.splitlines() if line.startswith("fathom_speculative_draft_tokens_by_place_total{")]
    assert by_place and 'place="1"' in by_place[0]
    assert sum(int(line.rsplit(" ", 1)[1]) for line in by_place) == health["drafts"]


def test_next_turn_reuses_the_cached_conversation(server):
    # runtime.prefix_caching (on by default): the second turn's prompt begins with the first turn's
    # prompt and reply, which a free slot still holds; usage reports them as cached tokens.
    client = server.client()
    messages = [{"role": "user", "content": "Tell me a story"}]
    first = client.chat.completions.create(model=server.model_id, messages=messages, **GREEDY)
    messages += [{"role": "assistant", "content": first.choices[0].message.content},
                 {"role": "user", "content": "And then?"}]
    second = client.chat.completions.create(model=server.model_id, messages=messages, **GREEDY)
    cached = second.usage.prompt_tokens_details.cached_tokens
    assert first.usage.prompt_tokens <= cached < second.usage.prompt_tokens
    health = server.health()
    assert health["prompt_tokens_cached"] >= cached
    assert health["prompt_tokens"] > health["prompt_tokens_cached"]


def test_stop_string(server):
    client = server.client()
    free = chat(client, server.model_id, "Go on", temperature=0, max_tokens=64, extra_body=EXACT)
    text = free.choices[0].message.content
    # Stop at the first printable ASCII character after the start (the demo model mostly emits
    # printable bytes); the answer must be exactly the text before it.
    at = next(i for i, c in enumerate(text) if i > 0 and c.isascii() and c.isprintable())
    stopped = chat(client, server.model_id, "Go on", temperature=0, max_tokens=64, stop=[text[at]],
                   extra_body={"ignore_eos": True})
    assert stopped.choices[0].finish_reason == "stop"
    assert stopped.choices[0].message.content == text[:at]
    assert stopped.usage.completion_tokens < 64


def test_logit_bias_bans_and_forces_tokens(server):
    client = server.client()
    plain = chat(client, server.model_id, "Bias me.", **GREEDY, extra_body=EXACT).choices[0].token_ids
    banned = chat(client, server.model_id, "Bias me.", **GREEDY, logit_bias={str(plain[0]): -100},
                  extra_body=EXACT).choices[0].token_ids
    assert banned[0] != plain[0]
    assert plain[0] not in banned
    forced = chat(client, server.model_id, "Bias me.", **GREEDY, logit_bias={str(plain[1]): 100},
                  extra_body=EXACT).choices[0].token_ids
    assert forced == [plain[1]] * GREEDY["max_tokens"]
    # An id outside the vocabulary is the request's fault.
    status, body = server.post_json("/v1/chat/completions", {
        "model": server.model_id, "messages": [{"role": "user", "content": "x"}], "logit_bias": {"99999999": 1}})
    assert_openai_error(status, body, 400)
    assert "99999999" in body["error"]["message"]


def test_min_tokens_and_stop_token_ids(server):
    client = server.client()
    plain = chat(client, server.model_id, "Stop me.", **GREEDY, extra_body=EXACT).choices[0].token_ids
    stop_id = plain[3]
    first = plain.index(stop_id)
    stopped = chat(client, server.model_id, "Stop me.", **GREEDY,
                   extra_body={"return_token_ids": True, "stop_token_ids": [stop_id]}).choices[0]
    assert stopped.token_ids == plain[:first + 1] and stopped.finish_reason == "stop"
    held = chat(client, server.model_id, "Stop me.", **GREEDY,
                extra_body={"return_token_ids": True, "stop_token_ids": [stop_id], "min_tokens": 8}).choices[0]
    assert len(held.token_ids) >= 8 and stop_id not in held.token_ids[:8]


def test_json_mode_gives_json_objects(server):
    # The demo model has random weights: only JSON mode makes its text JSON.
    client = server.client()
    closed = 0
    for seed in range(1, 9):
        reply = chat(client, server.model_id, "Reply in JSON.", max_tokens=60, temperature=1.0, seed=seed,
                     response_format={"type": "json_object"})
        choice = reply.choices[0]
        if choice.finish_reason == "stop":
            assert isinstance(json.loads(choice.message.content), dict), choice.message.content
            closed += 1
    assert closed > 0, "no reply closed its object"


PERSON_SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 12},
        "age": {"type": "integer", "minimum": 0, "maximum": 130},
        "code": {"type": "string", "pattern": "^[A-Z]{3}-\\d{2}$"},
        "born": {"type": "string", "format": "date"},
        "email": {"anyOf": [{"type": "string", "format": "email"}, {"type": "null"}]},
        "tags": {"type": "array", "items": {"enum": ["red", "green", 7]}, "maxItems": 3},
    },
    "required": ["name", "age", "code"],
    "additionalProperties": False,
}


def test_json_schema_replies_validate(server):
    # The random-weights demo model follows the schema only because the grammar makes it:
    # every reply that stopped is valid to jsonschema, the members in the schema's order.
    client = server.client()
    validator = jsonschema.Draft202012Validator(PERSON_SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    closed = 0
    for seed in range(1, 9):
        reply = chat(client, server.model_id, "Describe a person.", max_tokens=80, temperature=1.0, seed=seed,
                     response_format={"type": "json_schema",
                                      "json_schema": {"name": "person", "schema": PERSON_SCHEMA, "strict": True}})
        choice = reply.choices[0]
        if choice.finish_reason == "stop":
            value = json.loads(choice.message.content)
            validator.validate(value)
            assert list(value)[:3] == ["name", "age", "code"], choice.message.content
            closed += 1
    assert closed > 0, "no reply closed its object"
    # Streamed, completions, and vLLM's guided_json: the same constraint.
    streamed = "".join(chunk.choices[0].text for chunk in client.completions.create(
        model=server.model_id, prompt="List:", max_tokens=40, temperature=1.0, seed=3, stream=True,
        extra_body={"guided_json": {"type": "array", "items": {"type": "boolean"}, "minItems": 1, "maxItems": 4}}))
    assert all(ch in "[]truefals, \n\t\r" for ch in streamed), streamed
    status, body = server.post_json("/v1/chat/completions", {
        "model": server.model_id, "messages": [{"role": "user", "content": "x"}],
        "response_format": {"type": "json_schema", "json_schema": {
            "name": "x", "schema": {"type": "object", "properties": {"n": {"type": "number", "minimum": 0.30000000000000004}}}}}})
    assert_openai_error(status, body, 400, param="response_format")
    assert "#/properties/n/minimum" in body["error"]["message"]


RANDOM_WALK_SCHEMAS = [
    {"type": "string", "pattern": "^[A-Z]{2,3}-\\d{1,3}(\\.[a-z]+)?$"},
    {"type": "string", "pattern": "^\"[^\"\\\\]{0,6}\"(x|yy)*$"},
    {"type": "string", "pattern": "^a.c\\D\\W\\S\\s?$"},
    {"type": "string", "pattern": "^(?:\\w+@|#)[^a-z]{1,4}$"},
    {"type": "string", "pattern": "[0-9]{3}"},
    {"type": "string", "format": "date-time"},
    {"type": "string", "format": "ipv4"},
    {"type": "string", "format": "uuid"},
    {"type": "string", "minLength": 2, "maxLength": 5},
    {"type": "integer", "exclusiveMinimum": -20, "maximum": 300},
    {"type": "number", "exclusiveMinimum": -1, "maximum": 1},
    {"type": "number", "exclusiveMinimum": -0.75, "maximum": 2.5},
    {"type": "number", "minimum": 0.001, "exclusiveMaximum": 0.0125},
    {"type": "integer", "multipleOf": 7, "minimum": -100, "maximum": 500},
    {"type": "number", "multipleOf": 25},
    {"type": "array", "prefixItems": [{"type": "integer", "minimum": 0}, {"enum": ["x", "y"]}], "items": False},
    {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "boolean"}, "c": {"enum": [1, 2]}},
     "minProperties": 1, "maxProperties": 2, "additionalProperties": False},
    {"type": "object", "additionalProperties": {"type": "integer"}, "propertyNames": {"pattern": "^[a-c]{1,2}$"},
     "minProperties": 1, "maxProperties": 3},
    {"type": "array", "items": {"enum": ["x", "y", "z", 1, None]}, "uniqueItems": True, "minItems": 2},
    {"type": "object", "patternProperties": {"^[A-Z][0-9]?$": {"type": "boolean"}}, "additionalProperties": False},
    {"oneOf": [{"type": "object", "properties": {"kind": {"const": "a"}, "n": {"type": "integer"}}, "required": ["kind"]},
               {"type": "object", "properties": {"kind": {"enum": ["b", "c"]}, "s": {"type": "string"}},
                "required": ["kind", "s"], "additionalProperties": False},
               {"type": "array", "items": {"type": "boolean"}, "maxItems": 2}]},
]


def test_json_schema_random_walks_validate(server):
    # The random-weights model, sampled hot, walks the grammar at random: every value it
    # finishes must satisfy jsonschema (with its format checker) for each of these schemas.
    client = server.client()
    finished = 0
    for schema in RANDOM_WALK_SCHEMAS:
        validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
        reply = client.completions.create(model=server.model_id, prompt="Value:", max_tokens=60, temperature=1.5,
                                          seed=11, n=6, extra_body={"guided_json": schema})
        for choice in reply.choices:
            if choice.finish_reason == "stop":
                validator.validate(json.loads(choice.text))
                finished += 1
    assert finished >= 20, f"only {finished} values finished"


REGEX_WALKS = [r"\w+@\w+\.com", r"[A-Z]{2,3}-\d{1,3}(\.[a-z]+)?", r"(?:\d+,)*\d+", r"-?(0|[1-9]\d*)(\.\d+)?",
               r"[^\"\\]{1,6}!", r"日本語?\d"]


def test_regex_and_choice_outputs(server):
    # vLLM's structured_outputs (and its older guided_regex / guided_choice): the random-weights
    # model, sampled hot, writes texts Python's re.fullmatch accepts, and only the choices.
    import re

    client = server.client()
    finished = 0
    for pattern in REGEX_WALKS:
        reply = client.completions.create(model=server.model_id, prompt="Value:", max_tokens=60, temperature=1.5,
                                          seed=5, n=6, extra_body={"structured_outputs": {"regex": pattern}})
        for choice in reply.choices:
            if choice.finish_reason == "stop":
                assert re.fullmatch(pattern, choice.text), (pattern, choice.text)
                finished += 1
    assert finished >= 15, f"only {finished} texts finished"

    choices = ["positive", "negative", "neutral", "mixed", "unknown"]
    seen = set()
    for seed in range(1, 9):
        for extra in ({"structured_outputs": {"choice": choices}}, {"guided_choice": choices}):
            reply = chat(client, server.model_id, "Sentiment?", max_tokens=12, temperature=2.0, seed=seed, extra_body=extra)
            assert reply.choices[0].message.content in choices
            assert reply.choices[0].finish_reason == "stop"
            seen.add(reply.choices[0].message.content)
    assert len(seen) >= 2, seen
    streamed = "".join(chunk.choices[0].text for chunk in client.completions.create(
        model=server.model_id, prompt="Code:", max_tokens=20, temperature=1.0, seed=2, stream=True,
        extra_body={"guided_regex": "[0-9]{3}-[a-z]{2}"}))
    assert re.fullmatch("[0-9]{3}-[a-z]{2}", streamed), streamed

    for body, param in [
        ({"structured_outputs": {"regex": "(?=a)b"}}, "structured_outputs.regex"),
        ({"structured_outputs": {"grammar": "root = \"a\""}}, "structured_outputs.grammar"),
        ({"structured_outputs": {"structural_tag": "{}"}}, "structured_outputs"),
        ({"grammar": "root ::= item"}, "grammar"),
        ({"structured_outputs": {"regex": "a", "choice": ["a"]}}, "structured_outputs"),
        ({"guided_choice": []}, "guided_choice"),
        ({"guided_regex": "a", "response_format": {"type": "json_object"}}, "guided_regex"),
    ]:
        status, reply = server.post_json("/v1/completions", {"model": server.model_id, "prompt": "x", **body})
        assert_openai_error(status, reply, 400, param=param)


def test_gbnf_grammar_outputs(server):
    # GBNF grammars (vLLM's structured_outputs.grammar and guided_grammar, llama.cpp's grammar):
    # the random-weights model, sampled hot, writes only texts the grammar derives -- judged by
    # Python's re.fullmatch for a regular one, by a bracket counter for a recursive one.
    import re

    client = server.client()
    regular = 'root ::= [0-9]{3} "-" ( "ab" | "cd" )+ [^a-z0-9]?\n'
    finished = 0
    for extra in ({"structured_outputs": {"grammar": regular}}, {"guided_grammar": regular}, {"grammar": regular}):
        reply = client.completions.create(model=server.model_id, prompt="Code:", max_tokens=24, temperature=1.5, seed=3,
                                          n=4, extra_body=extra)
        for choice in reply.choices:
            if choice.finish_reason == "stop":
                assert re.fullmatch(r"[0-9]{3}-(ab|cd)+[^a-z0-9]?", choice.text, re.S), choice.text
                finished += 1
    assert finished >= 4, f"only {finished} texts finished"

    def balanced(text: str) -> bool:
        depth = 0
        for c in text:
            depth += 1 if c == "(" else -1
            if depth < 0:
                return False
        return depth == 0 and set(text) <= {"(", ")"}

    brackets = 'root ::= "(" inner ")"\ninner ::= ( "(" inner ")" )*\n'
    finished = 0
    for seed in range(1, 7):
        reply = chat(client, server.model_id, "Brackets?", max_tokens=30, temperature=1.2, seed=seed,
                     extra_body={"structured_outputs": {"grammar": brackets}})
        text = reply.choices[0].message.content
        if reply.choices[0].finish_reason == "stop":
            assert balanced(text), text
            finished += 1
        else:
            assert set(text) <= {"(", ")"} and text.startswith("("), text
    assert finished >= 2, f"only {finished} texts finished"


def test_penalties_are_accepted(server):
    reply = chat(server.client(), server.model_id, "x", max_tokens=4, temperature=0, presence_penalty=1.0,
                 frequency_penalty=0.5, top_p=0.5)
    assert reply.usage.completion_tokens >= 1


# --- batching -------------------------------------------------------------------------------

PROMPTS = ["Hello", "What is the capital of France?", "a", "Write a haiku about the sea, please.",
           "1 2 3 4 5 6 7 8 9", "Why?", "DeepSeek", "Tell me about batching in inference servers."]


def run_request(server: ServerProcess, i: int, prompt: str) -> tuple[list[int], str]:
    """Even requests stream, odd ones do not; chat and completions alternate in pairs."""
    client = server.client()
    params = dict(model=server.model_id, temperature=0, max_tokens=48, extra_body=EXACT)
    use_chat = (i // 2) % 2 == 0
    if i % 2 == 0:
        if use_chat:
            chunks = list(client.chat.completions.create(messages=[{"role": "user", "content": prompt}],
                                                         stream=True, **params))
            return ([t for c in chunks if c.choices for t in (getattr(c.choices[0], "token_ids", None) or [])],
                    "".join(c.choices[0].delta.content or "" for c in chunks if c.choices))
        chunks = list(client.completions.create(prompt=prompt, stream=True, **params))
        return ([t for c in chunks for t in (getattr(c.choices[0], "token_ids", None) or [])],
                "".join(c.choices[0].text for c in chunks))
    if use_chat:
        reply = client.chat.completions.create(messages=[{"role": "user", "content": prompt}], **params)
        return reply.choices[0].token_ids, reply.choices[0].message.content
    reply = client.completions.create(prompt=prompt, **params)
    return reply.choices[0].token_ids, reply.choices[0].text


def test_eight_concurrent_greedy_requests_match_each_alone(server):
    alone = [run_request(server, i, p) for i, p in enumerate(PROMPTS)]
    assert all(len(ids) == 48 for ids, _ in alone)

    results: list = [None] * len(PROMPTS)
    errors: list = []
    barrier = threading.Barrier(len(PROMPTS))
    peak_running = 0
    done = threading.Event()

    def worker(i: int) -> None:
        try:
            barrier.wait(HTTP_TIMEOUT_S)
            results[i] = run_request(server, i, PROMPTS[i])
        except BaseException as e:  # reported below, in the test's thread
            errors.append(e)

    def monitor() -> None:
        nonlocal peak_running
        while not done.is_set():
            peak_running = max(peak_running, server.health().get("running", 0))
            time.sleep(0.005)

    # Several rounds, so that the batch is observed at least once even on a fast machine; every
    # round must match.
    for _ in range(3):
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(PROMPTS))]
        watcher = threading.Thread(target=monitor)
        done.clear()
        watcher.start()
        for t in threads:
            t.start()
        for t in threads:
            t.join(HTTP_TIMEOUT_S * 2)
        done.set()
        watcher.join(HTTP_TIMEOUT_S)
        assert not errors, errors
        for i, prompt in enumerate(PROMPTS):
            assert results[i] == alone[i], f"request {i} ({prompt!r}) differs when batched"
        if peak_running > 1:
            break
    assert peak_running > 1, "the concurrent requests never ran in one batch"


# --- tokenizer endpoints and metrics ----------------------------------------------------------


def test_tokenize_and_detokenize(server):
    status, body = server.post_json("/tokenize", {"model": server.model_id, "prompt": "The sea"})
    assert status == 200, body
    assert body["count"] == len(body["tokens"]) and body["max_model_len"] == 512
    # The engine's own count of the same prompt.
    completion = server.client().completions.create(model=server.model_id, prompt="The sea", max_tokens=1)
    assert body["count"] == completion.usage.prompt_tokens
    status, plain = server.post_json("/tokenize", {"prompt": "The sea", "add_special_tokens": False})
    assert plain["tokens"] == body["tokens"][1:], "without special tokens: the same ids less BOS"
    status, back = server.post_json("/detokenize", {"tokens": plain["tokens"]})
    assert status == 200 and back == {"prompt": "The sea"}

    # A conversation costs what a chat completion reports.
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello!"}]
    status, conversation = server.post_json("/tokenize", {"messages": messages})
    reply = server.client().chat.completions.create(model=server.model_id, messages=messages, max_tokens=1)
    assert conversation["count"] == reply.usage.prompt_tokens

    for path, payload, param in [("/tokenize", {}, "prompt"),
                                 ("/tokenize", {"prompt": "a", "messages": messages}, "messages"),
                                 ("/tokenize", {"prompt": 5}, "prompt"),
                                 ("/tokenize", {"messages": [{"role": "wizard", "content": "x"}]}, "messages"),
                                 ("/detokenize", {"tokens": [1, -1]}, "tokens"),
                                 ("/detokenize", {"tokens": [10**9]}, "tokens"),
                                 ("/detokenize", {}, "tokens")]:
        status, err = server.post_json(path, payload)
        assert_openai_error(status, err, 400, param=param)
    status, err = server.post_json("/tokenize", {"model": "gpt-4o", "prompt": "x"})
    assert_openai_error(status, err, 404, code="model_not_found")
    assert_serves(server)


def metric_samples(server: ServerProcess) -> dict[str, float]:
    status, body = server.request("GET", "/metrics")
    assert status == 200
    samples = {}
    for line in body.decode().splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


def test_equal_schemas_reuse_one_automaton(server):
    # A second request with an equal schema finds the automaton built (the title, an annotation,
    # keeps this schema apart from the other tests').
    label = f'model_name="{server.model_id}"'
    schema = {"title": "reuse-test", "type": "array", "items": {"type": "boolean"}, "maxItems": 3}
    counts = []
    for _ in range(3):
        server.client().completions.create(model=server.model_id, prompt="List:", max_tokens=12, temperature=0,
                                           extra_body={"guided_json": schema})
        samples = metric_samples(server)
        counts.append((samples[f"fathom_structured_output_grammars_built_total{{{label}}}"],
                       samples[f"fathom_structured_output_grammars_reused_total{{{label}}}"]))
    assert counts[1][0] == counts[0][0] and counts[2][0] == counts[0][0], counts
    assert counts[1][1] == counts[0][1] + 1 and counts[2][1] == counts[0][1] + 2, counts


def test_metrics_count_what_the_requests_did(server):
    label = f'model_name="{server.model_id}"'
    before = metric_samples(server)
    reply = chat(server.client(), server.model_id, "Count me.", max_tokens=5, temperature=0, extra_body={"ignore_eos": True})
    after = metric_samples(server)

    def delta(name: str, extra: str = "") -> float:
        key = f"{name}{{{label}{extra}}}"
        return after[key] - before.get(key, 0.0)

    assert delta("fathom_generation_tokens_total") == 5
    assert delta("fathom_requests_total", ',outcome="completed"') == 1
    assert delta("fathom_prompt_tokens_total") == reply.usage.prompt_tokens
    assert delta("fathom_time_to_first_token_seconds_count") == 1
    assert delta("fathom_request_duration_seconds_count") == 1
    assert delta("fathom_request_duration_seconds_bucket", ',le="+Inf"') == 1
    assert after[f"fathom_requests_running{{{label}}}"] == 0
    # Buckets are cumulative.
    buckets = [v for k, v in after.items() if k.startswith("fathom_request_duration_seconds_bucket")]
    assert buckets == sorted(buckets)
    conn = http.client.HTTPConnection(server.host, server.port, timeout=HTTP_TIMEOUT_S)
    try:
        conn.request("GET", "/metrics")
        assert conn.getresponse().getheader("Content-Type").startswith("text/plain; version=0.0.4")
    finally:
        conn.close()


# --- errors through the openai client --------------------------------------------------------


def test_client_sees_openai_errors(server):
    client = server.client()
    with pytest.raises(openai.BadRequestError) as e:
        chat(client, server.model_id, "x", tools=[{"type": "function", "function": {"name": "f"}}])
    assert e.value.status_code == 400
    assert e.value.body["param"] == "tools"
    with pytest.raises(openai.NotFoundError) as e:
        chat(client, "gpt-4o", "x")
    assert e.value.body["code"] == "model_not_found"
    with pytest.raises(openai.BadRequestError) as e:
        chat(client, server.model_id, "x", max_tokens=100_000)
    assert e.value.body["code"] == "context_length_exceeded"
    with pytest.raises(openai.BadRequestError):
        chat(client, server.model_id, "x", temperature=5)
    assert_serves(server)


def test_model_aliases(server):
    # The directory name is the id; the path given on the command line is accepted too.
    reply = chat(server.client(), str(server.model_dir), "x", max_tokens=1)
    assert reply.model == server.model_id


# --- raw HTTP -------------------------------------------------------------------------------


def test_malformed_json(server):
    for body in ["{", "not json", "[1, 2]", '{"model": "x",}', ""]:
        status, raw = server.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
        assert_openai_error(status, json.loads(raw), 400)
        assert_serves(server)


@pytest.mark.parametrize("fields, param", [
    ({"temperature": "hot"}, "temperature"),
    ({"max_tokens": "10"}, "max_tokens"),
    ({"max_tokens": 0}, "max_tokens"),
    ({"messages": "hello"}, "messages"),
    ({"messages": []}, "messages"),
    ({"messages": [{"role": "user", "content": 42}]}, "messages"),
    ({"messages": [{"role": "wizard", "content": "x"}]}, "messages"),
    ({"messages": [{"content": "x"}]}, "messages"),
    ({"stream": "yes"}, "stream"),
    ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
    ({"n": 0}, "n"),
    ({"n": 129}, "n"),
    ({"model": None}, "model"),
    ({"top_logprobs": 2}, "top_logprobs"),
    ({"logprobs": True, "top_logprobs": 50}, "top_logprobs"),
    ({"logprobs": 2}, "logprobs"),
])
def test_bad_fields(server, fields, param):
    payload = {"model": server.model_id, "messages": [{"role": "user", "content": "x"}], **fields}
    status, body = server.post_json("/v1/chat/completions", payload)
    assert_openai_error(status, body, 400, param=param)
    assert_serves(server)


def test_bad_completion_prompt(server):
    status, body = server.post_json("/v1/completions", {"model": server.model_id, "prompt": ["a", [1, 2]]})
    assert_openai_error(status, body, 400, param="prompt")
    assert "prompt[1]" in body["error"]["message"]
    status, body = server.post_json("/v1/completions", {"model": server.model_id, "prompt": [10**9]})
    assert_openai_error(status, body, 400)
    assert_serves(server)


def test_unknown_route_and_method(server):
    for method, path in [("GET", "/v1/nothing"), ("POST", "/v2/chat/completions"), ("GET", "/")]:
        status, body = server.request(method, path, "{}" if method == "POST" else None)
        assert_openai_error(status, json.loads(body), 404, code="unknown_url")
    status, body = server.request("GET", "/v1/chat/completions")
    assert_openai_error(status, json.loads(body), 405)
    assert_serves(server)


def test_unknown_model(server):
    status, body = server.post_json("/v1/completions", {"model": "no-such-model", "prompt": "x"})
    assert_openai_error(status, body, 404, param="model", code="model_not_found")
    assert_serves(server)


def test_oversize_body(server):
    limit = 65536
    big = json.dumps({"model": server.model_id, "prompt": "x" * (2 * limit)})
    status, body = server.request("POST", "/v1/completions", big, {"Content-Type": "application/json"})
    assert_openai_error(status, json.loads(body), 413, code="request_too_large")
    assert_serves(server)

    # Chunked transfer encoding has no Content-Length to check up front; the limit still holds.
    def chunks():
        for i in range(0, len(big), 8192):
            yield big[i:i + 8192].encode()
    status, body = server.request("POST", "/v1/completions", chunks(),
                                  {"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
                                  chunked=True)
    assert_openai_error(status, json.loads(body), 413, code="request_too_large")

    # Just under the limit is fine.
    fits = {"model": server.model_id, "prompt": "x" * 100, "max_tokens": 1}
    status, body = server.post_json("/v1/completions", fits)
    assert status == 200, body
    assert_serves(server)


def expect_leaving_mid_stream_cancels(server: ServerProcess, n: int) -> None:
    """A client that reads the first tokens of a stream of n choices and leaves: all n are
    cancelled, their slots freed, and the server goes on serving."""
    before = server.wait_for_health(lambda h: h.get("running") == 0 and h.get("waiting") == 0)
    # Long enough that it cannot finish by itself during the test (max_seq_len is 512).
    stream = RawStream(server, {"model": server.model_id, "messages": [{"role": "user", "content": "go"}],
                                "max_tokens": 480, "ignore_eos": True, "n": n})
    try:
        stream.read_tokens()
    finally:
        stream.close()
    after = server.wait_for_health(lambda h: h.get("running") == 0 and h.get("waiting") == 0)
    assert after["cancelled"] == before["cancelled"] + n, (before, after)
    assert_serves(server)


def test_client_leaving_mid_stream_frees_its_slot(server):
    expect_leaving_mid_stream_cancels(server, 1)


def test_client_leaving_a_stream_of_several_choices_frees_all_their_slots(server):
    expect_leaving_mid_stream_cancels(server, 3)


def test_client_leaving_a_whole_reply_frees_its_slots(server):
    """A non-streaming request writes nothing until it is done; a client that closes the
    connection before that still cancels it (the server watches the socket), and every choice's
    slot is freed."""
    before = server.wait_for_health(lambda h: h.get("running") == 0 and h.get("waiting") == 0)
    body = json.dumps({"model": server.model_id, "messages": [{"role": "user", "content": "go"}], "max_tokens": 480,
                       "ignore_eos": True, "n": 4}).encode()
    sock = socket.create_connection((server.host, server.port), timeout=HTTP_TIMEOUT_S)
    try:
        sock.sendall((f"POST /v1/chat/completions HTTP/1.1\r\nHost: {server.host}\r\nContent-Type: application/json\r\n"
                      f"Content-Length: {len(body)}\r\n\r\n").encode() + body)
        server.wait_for_health(lambda h: h.get("running", 0) > 0)
    finally:
        sock.close()
    after = server.wait_for_health(lambda h: h.get("running") == 0 and h.get("waiting") == 0)
    assert after["cancelled"] == before["cancelled"] + 4, (before, after)
    assert after["completed"] == before["completed"], "the request ran to its end"
    assert_serves(server)


def test_stream_closes_cleanly_after_done(server):
    stream = RawStream(server, {"model": server.model_id, "prompt": "abc", "max_tokens": 2}, "/v1/completions")
    try:
        stream.read_until(b"data: [DONE]\n\n")
        # The chunked body ends right after [DONE].
        stream.read_until(b"0\r\n\r\n")
    finally:
        stream.close()


# --- servers of their own ------------------------------------------------------------------


def test_api_key(start_server):
    server = start_server('[server]\napi_key = "from-config"\n', extra_args=["--api-key", "s3cret"])
    # --api-key wins over server.api_key.
    reply = chat(server.client(api_key="s3cret"), server.model_id, "x", max_tokens=2)
    assert reply.usage.completion_tokens >= 1
    with pytest.raises(openai.AuthenticationError) as e:
        chat(server.client(api_key="from-config"), server.model_id, "x", max_tokens=2)
    assert e.value.status_code == 401
    assert e.value.body["code"] == "invalid_api_key"

    payload = {"model": server.model_id, "prompt": "x", "max_tokens": 1}
    for headers in [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"},
                    {"Authorization": "Basic s3cret"}]:
        status, body = server.post_json("/v1/completions", payload, headers)
        assert_openai_error(status, body, 401, code="invalid_api_key")
    status, body = server.request("GET", "/v1/models")
    assert_openai_error(status, json.loads(body), 401, code="invalid_api_key")
    # /health and /metrics stay open for load balancers, probes and scrapers; /tokenize does not.
    assert server.health()["status"] == "ok"
    assert server.request("GET", "/metrics")[0] == 200
    status, body = server.post_json("/tokenize", {"prompt": "x"})
    assert_openai_error(status, body, 401, code="invalid_api_key")
    status, body = server.post_json("/v1/completions", payload, {"Authorization": "Bearer s3cret"})
    assert status == 200, body


def test_cors_for_the_origins_configured(start_server):
    server = start_server('[server]\napi_key = "k"\ncors_origins = ["https://app.example"]\n')
    auth = {"Authorization": "Bearer k"}

    def call(method, path, headers, body=None):
        conn = http.client.HTTPConnection(server.host, server.port, timeout=HTTP_TIMEOUT_S)
        try:
            conn.request(method, path, body=body, headers=headers)
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()

    # The browser's preflight: no API key, the methods and the headers it asked for.
    status, headers, _ = call("OPTIONS", "/v1/chat/completions",
                              {"Origin": "https://app.example", "Access-Control-Request-Method": "POST",
                               "Access-Control-Request-Headers": "authorization, content-type"})
    assert status == 204
    assert headers["access-control-allow-origin"] == "https://app.example"
    assert "POST" in headers["access-control-allow-methods"]
    assert headers["access-control-allow-headers"] == "authorization, content-type"
    # The request itself: its reply (a stream too) carries the origin; the key is still needed.
    body = json.dumps({"model": server.model_id, "prompt": "x", "max_tokens": 2})
    status, headers, _ = call("POST", "/v1/completions", {"Origin": "https://app.example", **auth,
                                                          "Content-Type": "application/json"}, body)
    assert status == 200 and headers["access-control-allow-origin"] == "https://app.example"
    assert headers["vary"] == "Origin"
    status, headers, _ = call("POST", "/v1/completions", {"Origin": "https://app.example",
                                                          "Content-Type": "application/json"}, body)
    assert status == 401 and headers["access-control-allow-origin"] == "https://app.example", \
        "an error reaches the page too, so that it can show it"
    stream_body = json.dumps({"model": server.model_id, "prompt": "x", "max_tokens": 2, "stream": True})
    status, headers, data = call("POST", "/v1/completions", {"Origin": "https://app.example", **auth,
                                                             "Content-Type": "application/json"}, stream_body)
    assert status == 200 and headers["access-control-allow-origin"] == "https://app.example"
    assert data.rstrip().endswith(b"[DONE]") or b"[DONE]" in data
    # Another origin gets no CORS headers, and its preflight is refused.
    status, headers, _ = call("GET", "/v1/models", {"Origin": "https://evil.example", **auth})
    assert status == 200 and "access-control-allow-origin" not in headers
    status, headers, _ = call("OPTIONS", "/v1/models", {"Origin": "https://evil.example",
                                                        "Access-Control-Request-Method": "GET"})
    assert status == 403 and "access-control-allow-origin" not in headers


def test_no_cors_headers_unless_configured(server):
    conn = http.client.HTTPConnection(server.host, server.port, timeout=HTTP_TIMEOUT_S)
    try:
        conn.request("GET", "/v1/models", headers={"Origin": "https://app.example"})
        r = conn.getresponse()
        r.read()
        assert r.getheader("Access-Control-Allow-Origin") is None
    finally:
        conn.close()


def test_full_queue_answers_503(start_server):
    # One batch slot and one queue place: a running request and a waiting one fill the server.
    server = start_server("[server]\nmax_queue = 1\n", max_batch=1)
    long_request = {"model": server.model_id, "messages": [{"role": "user", "content": "go"}],
                    "max_tokens": 480, "ignore_eos": True}
    running = RawStream(server, long_request)
    waiting = None
    try:
        running.read_tokens()
        server.wait_for_health(lambda h: h.get("running") == 1)
        waiting = RawStream(server, long_request)
        server.wait_for_health(lambda h: h.get("waiting") == 1)

        status, body = server.post_json("/v1/chat/completions", {**long_request, "max_tokens": 1})
        assert_openai_error(status, body, 503)
        with pytest.raises(openai.InternalServerError) as e:
            chat(server.client(), server.model_id, "x", max_tokens=1)
        assert e.value.status_code == 503
        assert server.health()["status"] == "ok"
    finally:
        running.close()
        if waiting:
            waiting.close()
    # Both clients left: the running one is noticed at its next token, the waiting one at its
    # next heartbeat (or when it gets the slot and writes).
    after = server.wait_for_health(lambda h: h.get("running") == 0 and h.get("waiting") == 0)
    assert after["cancelled"] == 2, after
    assert_serves(server)


def test_more_choices_than_the_server_holds_answers_503(start_server):
    # One batch slot and two queue places hold three of the five choices at most: the request is
    # refused whole, the choices already queued are cancelled, and the server keeps serving.
    server = start_server("[server]\nmax_queue = 2\n", max_batch=1)
    status, body = server.post_json("/v1/chat/completions", {
        "model": server.model_id, "messages": [{"role": "user", "content": "x"}], "max_tokens": 4, "n": 5})
    assert_openai_error(status, body, 503, code="server_overloaded")
    server.wait_for_health(lambda h: h.get("running") == 0 and h.get("waiting") == 0)
    assert_serves(server)


def test_sigterm_stops_the_server_cleanly(start_server):
    server = start_server()
    stream = RawStream(server, {"model": server.model_id, "messages": [{"role": "user", "content": "go"}],
                                "max_tokens": 480, "ignore_eos": True})
    try:
        stream.read_tokens()
        assert server.stop(signal.SIGTERM) == 0, server.stderr()
        # The stream was told, then the connection closed.
        while True:
            data = stream.sock.recv(65536)
            if not data:
                break
            stream.received += data
    finally:
        stream.close()
    assert b"shutting down" in stream.received or b"0\r\n\r\n" in stream.received
    assert "shutting down" in server.stderr()


def test_startup_line_names_the_backends_and_the_cache(server, tiny_model):
    """What an operator sees first: the chain the model runs on and the KV cache it holds
    (max_batch 8 × max_seq_len 512 positions, one f32 row of kv_lora_rank + qk_rope_head_dim per
    layer)."""
    line = next(l for l in server.stderr().splitlines() if l.startswith("serving model"))
    c = json.loads((tiny_model / "config.json").read_text())
    cache = c["num_hidden_layers"] * (c["kv_lora_rank"] + c["qk_rope_head_dim"]) * 4 * 8 * 512
    assert f" on reference (max_batch 8, max_queue 64, KV cache {cache / 2**20:.1f} MiB f32)" in line, line


def test_sigint_stops_an_idle_server(start_server):
    server = start_server()
    assert server.stop(signal.SIGINT) == 0, server.stderr()


# --- tools through a chat template that presents them ------------------------------------------

TOOLS_TEMPLATE = REPO / "tests" / "tokenizer" / "data" / "templates" / "tools.jinja"


def test_tools_reach_a_template_that_reads_them(start_server):
    server = start_server(extra_args=["--chat-template", str(TOOLS_TEMPLATE)])
    tools = [{"type": "function", "function": {
        "name": "get_weather", "description": "Weather now, in °C.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Paris?"}]
    config = json.loads((server.model_dir / "tokenizer_config.json").read_text())
    bos = config["bos_token"]["content"] if isinstance(config["bos_token"], dict) else config["bos_token"]
    expected = render_like_transformers(TOOLS_TEMPLATE.read_text(), messages=messages, tools=tools, documents=None,
                                        add_generation_prompt=True, bos_token=bos, thinking=True)
    status, want = server.post_json("/tokenize", {"prompt": expected, "add_special_tokens": False})
    assert status == 200, want
    status, got = server.post_json("/tokenize", {"messages": messages, "tools": tools,
                                                 "chat_template_kwargs": {"thinking": True}})
    assert status == 200, got
    assert got["tokens"] == want["tokens"]

    # The demo model spells one token per byte: a small tool keeps the prompt within its context.
    client = server.client()
    small = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    status, want = server.post_json("/tokenize", {"messages": messages, "tools": small})
    assert status == 200, want
    reply = client.chat.completions.create(model=server.model_id, messages=messages, tools=small, max_tokens=4)
    assert reply.usage.prompt_tokens == want["count"]
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model=server.model_id, messages=messages, max_tokens=4,
                                       extra_body={"chat_template_kwargs": {"messages": []}})
    assert e.value.body["param"] == "chat_template_kwargs"
    assert_serves(server)


CALL_TOOLS = [
    {"type": "function", "function": {"name": "weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string", "maxLength": 8}, "unit": {"enum": ["C", "F"]}},
        "required": ["city", "unit"], "additionalProperties": False}}},
    {"type": "function", "function": {"name": "add", "parameters": {
        "type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
        "required": ["a", "b"], "additionalProperties": False}}},
    {"type": "function", "function": {"name": "now"}},
]


def assert_calls_validate(calls) -> None:
    """Each call names one of CALL_TOOLS, and jsonschema finds its arguments valid for that tool."""
    schemas = {t["function"]["name"]: t["function"].get("parameters", {"type": "object", "maxProperties": 0})
               for t in CALL_TOOLS}
    for call in calls:
        assert call.type == "function" and call.id.startswith("call_"), call
        jsonschema.validate(json.loads(call.function.arguments), schemas[call.function.name])


def streamed_calls(stream) -> tuple[list[dict], str | None, str]:
    """A stream's tool-call pieces put together as OpenAI's clients do: by index, the first piece
    giving id and name, the rest appending to the arguments."""
    calls: list[dict] = []
    finish, content = None, ""
    for chunk in stream:
        delta = chunk.choices[0].delta
        content += delta.content or ""
        for piece in delta.tool_calls or []:
            if piece.index == len(calls):
                assert piece.id and piece.function.name, "a call's first piece names it"
                calls.append({"id": piece.id, "name": piece.function.name, "arguments": ""})
            else:
                assert piece.id is None and piece.function.name is None, "only the first piece names the call"
            calls[piece.index]["arguments"] += piece.function.arguments or ""
        finish = chunk.choices[0].finish_reason or finish
    return calls, finish, content


def test_tool_choice_forces_calls(start_server, tmp_path):
    # The random-weights demo model calls tools only because the grammar makes it. A template
    # that names the tools (DeepSeek's own do not read them) keeps the byte-level prompt short.
    template = tmp_path / "names.jinja"
    template.write_text("{{ bos_token }}{% for t in tools or [] %}{{ t.function.name }} {% endfor %}"
                        "{% for m in messages %}{{ m.content }}{% endfor %}")
    server = start_server(extra_args=["--chat-template", str(template)])
    client = server.client()
    messages = [{"role": "user", "content": "Weather in Oslo?"}]
    finished = 0
    for seed in range(1, 7):
        reply = client.chat.completions.create(
            model=server.model_id, messages=messages, tools=CALL_TOOLS, max_tokens=60, temperature=1.0, seed=seed,
            tool_choice={"type": "function", "function": {"name": "weather"}})
        choice = reply.choices[0]
        assert choice.message.content is None
        assert [c.function.name for c in choice.message.tool_calls] == ["weather"]
        if choice.finish_reason == "tool_calls":
            assert_calls_validate(choice.message.tool_calls)
            finished += 1
        else:
            assert choice.finish_reason == "length"
    assert finished > 0, "no forced call finished its arguments"

    finished = 0
    for seed in range(1, 7):
        reply = client.chat.completions.create(model=server.model_id, messages=messages, tools=CALL_TOOLS,
                                               max_tokens=120, temperature=1.0, seed=seed, tool_choice="required")
        choice = reply.choices[0]
        if choice.finish_reason == "tool_calls":
            assert choice.message.content is None and choice.message.tool_calls
            assert_calls_validate(choice.message.tool_calls)
            finished += 1
    assert finished > 0, "no required call list finished"

    # Streamed: the same calls as the whole reply of the same seed, the arguments in pieces.
    for tool_choice in ["required", {"type": "function", "function": {"name": "add"}}]:
        kwargs = dict(model=server.model_id, messages=messages, tools=CALL_TOOLS, max_tokens=120, temperature=1.0,
                      seed=4, tool_choice=tool_choice, parallel_tool_calls=False)
        whole = client.chat.completions.create(**kwargs).choices[0]
        calls, finish, content = streamed_calls(client.chat.completions.create(stream=True, **kwargs))
        assert finish == whole.finish_reason
        assert content == ""
        assert [(c["name"], c["arguments"]) for c in calls] == [
            (c.function.name, c.function.arguments) for c in whole.message.tool_calls]
        assert len(calls) == 1, "parallel_tool_calls false: one call"

    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model=server.model_id, messages=messages, tools=CALL_TOOLS, max_tokens=4,
                                       tool_choice={"type": "function", "function": {"name": "missing"}})
    assert e.value.body["param"] == "tool_choice"
    assert_serves(server)


def test_strict_tools_hold_the_calls_the_model_makes(start_server, tmp_path):
    """tool_choice "auto" with strict tools: the model chooses to call (here made to, by a
    logit_bias on the calls' opening marker: the random demo model would not), and from the
    marker on the calls follow the template's format and the tools' schemas."""
    server, marker = start_calls_server(start_server, tmp_path)
    client = server.client()
    strict = [{**t, "function": {**t["function"], "strict": True}} for t in CALL_TOOLS]
    messages = [{"role": "user", "content": "Weather in Oslo?"}]
    finished = 0
    for seed in range(1, 7):
        reply = client.chat.completions.create(model=server.model_id, messages=messages, tools=strict, max_tokens=250,
                                               temperature=1.0, seed=seed, logit_bias={str(marker): 100})
        choice = reply.choices[0]
        if choice.finish_reason == "tool_calls":
            assert choice.message.tool_calls
            assert_calls_validate(choice.message.tool_calls)
            finished += 1
    assert finished > 0, "no strict call finished"

    # Without strict the same opening gives the random model's own bytes: no call survives parsing.
    loose = client.chat.completions.create(model=server.model_id, messages=messages, tools=CALL_TOOLS, max_tokens=40,
                                           temperature=1.0, seed=1, logit_bias={str(marker): 100})
    assert not loose.choices[0].message.tool_calls

    # A template that does not render calls cannot say how the model writes them: a 400.
    plain = tmp_path / "names.jinja"
    plain.write_text("{{ bos_token }}{% for t in tools or [] %}{{ t.function.name }} {% endfor %}"
                     "{% for m in messages %}{{ m.content }}{% endfor %}")
    other = start_server(extra_args=["--chat-template", str(plain)])
    with pytest.raises(openai.BadRequestError) as e:
        other.client().chat.completions.create(model=other.model_id, messages=messages, tools=strict, max_tokens=4)
    assert e.value.body["param"] == "tools" and "strict" in e.value.body["message"]
    assert_serves(other)


def test_reasoning_parser_returns_reasoning_apart(start_server):
    # R1's template opens the reply with "<think>\n"; the demo model never writes "</think>", so
    # with the parser its whole reply is reasoning (as a reply cut off mid-thought is).
    r1 = REPO / "tests" / "tokenizer" / "data" / "templates" / "deepseek-r1.jinja"
    plain = start_server(extra_args=["--chat-template", str(r1)])
    parsed = start_server(extra_args=["--chat-template", str(r1), "--reasoning-parser", "deepseek-r1"])
    messages = [{"role": "user", "content": "2+2?"}]
    want = plain.client().chat.completions.create(model=plain.model_id, messages=messages, **GREEDY,
                                                  extra_body=EXACT).choices[0].message
    got = parsed.client().chat.completions.create(model=parsed.model_id, messages=messages, **GREEDY,
                                                  extra_body=EXACT).choices[0].message
    assert want.content and "</think>" not in want.content
    assert got.content is None
    assert got.model_extra["reasoning_content"] == want.content

    stream = parsed.client().chat.completions.create(model=parsed.model_id, messages=messages, stream=True,
                                                     **GREEDY, extra_body=EXACT)
    reasoning, content, finish = "", "", None
    for chunk in stream:
        delta = chunk.choices[0].delta
        reasoning += (delta.model_extra or {}).get("reasoning_content") or ""
        content += delta.content or ""
        finish = chunk.choices[0].finish_reason or finish
    assert reasoning == want.content
    assert content == ""
    assert finish == "length"

    # The Responses API carries it as a reasoning item, whole and streamed.
    kwargs = dict(model=parsed.model_id, input="2+2?", max_output_tokens=GREEDY["max_tokens"], temperature=0,
                  extra_body=EXACT)
    whole = parsed.client().responses.create(**kwargs)
    assert [item.type for item in whole.output] == ["reasoning"]
    assert whole.output[0].content[0].text == want.content
    events = list(parsed.client().responses.create(**kwargs, stream=True))
    assert "".join(e.delta for e in events if e.type == "response.reasoning_text.delta") == want.content
    done = [e for e in events if e.type == "response.reasoning_text.done"]
    assert len(done) == 1 and done[0].text == want.content
    assert events[-1].response.output[0].content[0].text == want.content
    assert_serves(parsed)


def test_structured_output_starts_after_the_reasoning(start_server):
    # With R1's template the reply starts inside its reasoning; JSON mode then holds only after
    # "</think>". The demo model writes "</think>" when a logit_bias favours it: its reasoning is
    # free text, its content JSON. Unbiased it never closes the reasoning, and the reply is what
    # it is without JSON mode: the reasoning is not constrained.
    r1 = REPO / "tests" / "tokenizer" / "data" / "templates" / "deepseek-r1.jinja"
    server = start_server(extra_args=["--chat-template", str(r1), "--reasoning-parser", "deepseek-r1"])
    client = server.client()
    status, think_close = server.post_json("/tokenize", {"prompt": "</think>", "add_special_tokens": False})
    assert status == 200 and think_close["count"] == 1, think_close
    messages = [{"role": "user", "content": "JSON please"}]
    closed = 0
    for seed in range(1, 9):
        message_choice = client.chat.completions.create(
            model=server.model_id, messages=messages, max_tokens=80, temperature=1.0, seed=seed,
            response_format={"type": "json_object"}, logit_bias={str(think_close["tokens"][0]): 6}).choices[0]
        content = message_choice.message.content
        if message_choice.finish_reason == "stop":
            assert isinstance(json.loads(content), dict), content
            closed += 1
    assert closed > 0, "no reply closed its JSON after the reasoning"

    plain_choice = client.chat.completions.create(model=server.model_id, messages=messages, **GREEDY,
                                                  extra_body=EXACT).choices[0]
    plain, plain_ids = plain_choice.message, plain_choice.model_extra["token_ids"]
    in_json_mode = client.chat.completions.create(model=server.model_id, messages=messages, **GREEDY,
                                                  response_format={"type": "json_object"},
                                                  extra_body=EXACT).choices[0]
    assert plain.content is None and "</think>" not in plain.model_extra["reasoning_content"]
    assert in_json_mode.message.content is None
    assert in_json_mode.message.model_extra["reasoning_content"] == plain.model_extra["reasoning_content"]
    assert in_json_mode.model_extra["token_ids"] == plain_ids
    assert_serves(server)
