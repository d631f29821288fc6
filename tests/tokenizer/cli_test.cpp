// End to end through the built `fathom` binary: tokenize --jsonl on the shared
// corpus, detokenize back, chat-render the shared conversations, and errors.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "test_support.h"

namespace fathom::tokenizer {
namespace {

const std::string kFathom = std::string(FATHOM_BINARY_DIR) + "/bin/fathom";

struct RunResult {
  int status = -1;
  std::string out;
  std::string err;
};

std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Runs `fathom <args>` (arguments are single-quoted for the shell), capturing stdout and stderr.
RunResult run_fathom(const std::vector<std::string>& args, const std::string& name) {
  const auto dir = testing::make_temp_dir("cli-" + name);
  std::string command = "'" + kFathom + "'";
  for (const auto& arg : args) command += " '" + arg + "'";
  command += " >'" + (dir / "out").string() + "' 2>'" + (dir / "err").string() + "'";
  RunResult result;
  const int raw = std::system(command.c_str());
  result.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  result.out = slurp(dir / "out");
  result.err = slurp(dir / "err");
  return result;
}

std::vector<nlohmann::json> parse_lines(const std::string& text) {
  std::vector<nlohmann::json> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

class FathomCli : public ::testing::Test {
 protected:
  void SetUp() override {
    // The test target depends on `fathom`, so a missing binary means a broken build, not a reason to skip.
    ASSERT_TRUE(std::filesystem::exists(kFathom)) << kFathom << " is not built";
  }
};

TEST_F(FathomCli, TokenizeJsonlGivesTheSharedIdsInOrder) {
  for (const char* file : {"corpus.jsonl", "edge_cases.jsonl"}) {
    const auto path = testing::kTokenizerData / file;
    const RunResult r = run_fathom({"tokenize", "--tokenizer", testing::kModelDir.string(), "--jsonl", path.string()},
                                   "tokenize");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.err, "");
    const auto expected = testing::read_jsonl(path);
    const auto got = parse_lines(r.out);
    ASSERT_EQ(got.size(), expected.size());
    std::size_t exact = 0;
    for (std::size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i]["ids"], expected[i]["ids"]) << file << " line " << i + 1;
      exact += got[i]["ids"] == expected[i]["ids"];
    }
    std::printf("[ cli      ] fathom tokenize --jsonl %s: %zu/%zu lines exact\n", file, exact, got.size());
  }
}

TEST_F(FathomCli, DetokenizeJsonlRestoresTheCorpus) {
  const auto path = testing::kTokenizerData / "corpus.jsonl";
  const RunResult r =
      run_fathom({"detokenize", "--tokenizer", testing::kModelDir.string(), "--jsonl", path.string()}, "detokenize");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto expected = testing::read_jsonl(path);
  const auto got = parse_lines(r.out);
  ASSERT_EQ(got.size(), expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i]["text"], expected[i]["text"]) << "line " << i + 1;
}

TEST_F(FathomCli, TextAndIdsFlags) {
  const RunResult tokenized = run_fathom(
      {"tokenize", "--tokenizer", (testing::kModelDir / "tokenizer.json").string(), "--text", "Hello", "--add-special"},
      "text");
  ASSERT_EQ(tokenized.status, 0) << tokenized.err;
  const auto ids = nlohmann::json::parse(tokenized.out)["ids"];
  ASSERT_EQ(ids.front(), 0);  // BOS, from tokenizer_config.json beside tokenizer.json
  std::string list;
  for (const auto& id : ids) list += (list.empty() ? "" : ",") + id.dump();
  const RunResult text = run_fathom(
      {"detokenize", "--tokenizer", testing::kModelDir.string(), "--ids", list, "--skip-special"}, "ids");
  ASSERT_EQ(text.status, 0) << text.err;
  EXPECT_EQ(text.out, "Hello\n");
}

TEST_F(FathomCli, ChatRenderMatchesTheSharedRenders) {
  const RunResult r = run_fathom(
      {"chat-render", "--tokenizer", testing::kModelDir.string(), "--jsonl", testing::kChatTemplateData.string()},
      "chat");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto expected = testing::read_jsonl(testing::kChatTemplateData);
  const auto got = parse_lines(r.out);
  ASSERT_EQ(got.size(), expected.size());
  std::size_t matched = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i]["rendered"], expected[i]["rendered"]) << "line " << i + 1;
    matched += got[i]["rendered"] == expected[i]["rendered"];
  }
  std::printf("[ cli      ] fathom chat-render: %zu/%zu byte-identical\n", matched, got.size());
}

// Tools and keyword variables through --chat-template, against transformers' renders of the same
// cases (tests/tokenizer/data/jinja_chat_cases.jsonl, gen_jinja_cases.py).
TEST_F(FathomCli, ChatRenderWithATemplateToolsAndKwargs) {
  const auto data = std::filesystem::path(FATHOM_SOURCE_DIR) / "tests" / "tokenizer" / "data";
  for (const char* name : {"tools.jinja", "deepseek-v3.1.jinja"}) {
    const auto dir = testing::make_temp_dir(std::string("input-") + name);
    std::ofstream input(dir / "in.jsonl");
    std::vector<std::string> expected;
    std::ifstream cases(data / "jinja_chat_cases.jsonl");
    for (std::string text; std::getline(cases, text);) {
      const auto c = nlohmann::ordered_json::parse(text);
      if (c["template"] != name || c.contains("error")) continue;
      nlohmann::ordered_json line = {{"messages", c["messages"]}, {"add_generation_prompt", c["add_generation_prompt"]}};
      if (c.contains("tools")) line["tools"] = c["tools"];
      if (c.contains("kwargs")) line["chat_template_kwargs"] = c["kwargs"];
      input << line.dump() << "\n";
      expected.push_back(c["rendered"].get<std::string>());
    }
    input.close();
    const RunResult r = run_fathom({"chat-render", "--tokenizer", testing::kModelDir.string(), "--chat-template",
                                    (data / "templates" / name).string(), "--jsonl", (dir / "in.jsonl").string()},
                                   std::string("template-") + name);
    ASSERT_EQ(r.status, 0) << r.err;
    const auto got = parse_lines(r.out);
    ASSERT_EQ(got.size(), expected.size());
    ASSERT_GT(got.size(), 30u);
    for (std::size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i]["rendered"], expected[i]) << name << " line " << i + 1;
  }
}

TEST_F(FathomCli, ErrorsGoToStderrWithAStatus) {
  const auto dir = testing::make_temp_dir("cli-errors");
  std::ofstream(dir / "bad.jsonl") << "{\"text\": \"ok\"}\n{\"text\": 5}\n";
  const RunResult bad_line = run_fathom(
      {"tokenize", "--tokenizer", testing::kModelDir.string(), "--jsonl", (dir / "bad.jsonl").string()}, "bad-line");
  EXPECT_EQ(bad_line.status, 1);
  EXPECT_NE(bad_line.err.find("bad.jsonl:2: \"text\" must be a string"), std::string::npos) << bad_line.err;
  EXPECT_EQ(bad_line.out, "");

  const RunResult no_model =
      run_fathom({"tokenize", "--tokenizer", (dir / "missing").string(), "--text", "x"}, "no-model");
  EXPECT_EQ(no_model.status, 1);
  EXPECT_NE(no_model.err.find("no such file or directory"), std::string::npos) << no_model.err;

  const RunResult bad_id =
      run_fathom({"detokenize", "--tokenizer", testing::kModelDir.string(), "--ids", "1,999999"}, "bad-id");
  EXPECT_EQ(bad_id.status, 1);
  EXPECT_NE(bad_id.err.find("token id 999999 is not in the vocabulary"), std::string::npos) << bad_id.err;
}

TEST_F(FathomCli, BenchModeReportsThroughputAsJson) {
  const RunResult r = run_fathom({"tokenize", "--tokenizer", testing::kModelDir.string(), "--jsonl",
                                  (testing::kTokenizerData / "edge_cases.jsonl").string(), "--bench-repeat", "3"},
                                 "bench");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto report = nlohmann::json::parse(r.out);
  EXPECT_EQ(report["repeats"], 3);
  EXPECT_GT(report["mb_per_s"].get<double>(), 0.0);
}

}  // namespace
}  // namespace fathom::tokenizer
