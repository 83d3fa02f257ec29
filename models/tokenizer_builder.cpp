// A deterministic byte-level BPE trainer over a built-in text, emitting a LLaMA-3-shaped tokenizer.json.
#include "models/tokenizer_builder.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "models/tokenizer_text.hpp"

namespace wafersim::models {
namespace {

// Written for this file: a little English prose and a little code, so that the merges cover common words,
// identifiers, operators and indentation.
constexpr std::string_view kTrainingText = R"TXT(
The wafer is a single piece of silicon that holds hundreds of thousands of small cores. Each core has its own
memory, a router and a compute engine. The cores talk to their neighbours over short links, one word per cycle
in each direction, and a message that has to travel far is passed from router to router until it arrives.
A model of such a machine has to be fast, because the machine is large, and it has to be right, because people
use it to decide what to build next. When the model and the machine disagree, the model is wrong.
We load a language model, split its weights into tiles, place every tile on a core, and then we run the first
layer. The input is a sequence of tokens; each token is a number that stands for a piece of text. The output
is a score for every token in the vocabulary, and the next token is the one with the highest score.
This is the story of how a sentence becomes numbers and how the numbers become a sentence again.
It was a quiet morning in the lab. The coffee was still warm, the fans were humming, and the test suite had
just turned green for the first time in a week. Nobody said anything, but everybody smiled.
Good software is written slowly and read quickly. Write the test first, then the code, then the comment that
explains why the code is the way it is. Keep functions short, names clear, and state where it belongs.
A cache remembers answers to questions that have been asked before, so that they do not have to be computed
again. A queue holds work that is waiting; a stack holds work that was interrupted. The simplest design that
works is usually the best one, and the second simplest is usually the one that ships.
In the spring the river rises and the fields turn green; in the autumn the leaves fall and the days get
shorter. The weather report said there would be rain on Tuesday and sun on Wednesday, and for once it was right.
She opened the window, looked at the clouds, and decided to take the long way home through the park.
Numbers: 1, 2, 3, 10, 42, 100, 256, 1024, 2048, 4096, 65536, 3.14159, 2.71828, 0.5, 1e-5, 1e9, 2026.
Questions? Answers! Lists: apples, oranges, pears; tools: hammer, saw, drill. Quotes: "hello", 'world'.
It's, they're, we've, I'm, you'll, he'd, isn't, don't, can't, won't, shouldn't.

// Multiply a matrix by a vector, row by row, accumulating in fp32.
#include <cstdint>
#include <vector>

namespace sim {

struct Matrix {
  int rows = 0;
  int cols = 0;
  std::vector<float> data;
  float at(int r, int c) const { return data[static_cast<size_t>(r) * cols + c]; }
};

std::vector<float> multiply(const Matrix& m, const std::vector<float>& x) {
  std::vector<float> y(m.rows, 0.0f);
  for (int r = 0; r < m.rows; ++r) {
    float sum = 0.0f;
    for (int c = 0; c < m.cols; ++c) {
      sum += m.at(r, c) * x[c];
    }
    y[r] = sum;
  }
  return y;
}

int count_tokens(const std::string& text) {
  int count = 0;
  bool in_word = false;
  for (char ch : text) {
    if (ch == ' ' || ch == '\n') {
      in_word = false;
    } else if (!in_word) {
      in_word = true;
      ++count;
    }
  }
  return count;
}

}  // namespace sim

def softmax(values):
    """Return the normalised exponentials of a list of numbers."""
    top = max(values)
    exps = [math.exp(v - top) for v in values]
    total = sum(exps)
    return [e / total for e in exps]


class Counter:
    def __init__(self, start=0):
        self.value = start

    def increment(self, step=1):
        self.value += step
        return self.value


for index, name in enumerate(["alpha", "beta", "gamma"]):
    print(f"{index}: {name}")

if __name__ == "__main__":
    counter = Counter()
    while counter.value < 10:
        counter.increment()
    print("done", counter.value)

{"name": "tiny", "layers": 2, "dim": 64, "heads": 4, "kv_heads": 2, "vocab": 512, "tied": true}
SELECT name, count(*) FROM users WHERE active = 1 GROUP BY name ORDER BY count(*) DESC;
for f in *.txt; do echo "$f"; wc -l "$f"; done
)TXT";

// The LLaMA-3 pre-tokenizer pattern (Oniguruma syntax, as tokenizer.json stores it).
constexpr const char* kLlama3SplitPattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

}  // namespace

std::string build_small_tokenizer_json(int vocab_size) {
  constexpr int kSpecial = 2;
  if (vocab_size < 256 + kSpecial)
    throw std::invalid_argument("build_small_tokenizer_json: vocab_size " + std::to_string(vocab_size) +
                                " is below 258 (256 byte tokens + 2 special tokens)");
  const auto& alphabet = text::ByteLevelAlphabet::get().byte_to_text;

  // Token strings in byte-level form; ids are positions.
  std::vector<std::string> tokens(alphabet.begin(), alphabet.end());
  std::map<std::string, int> token_id;
  for (int b = 0; b < 256; ++b) token_id[tokens[b]] = b;

  // Unique pre-tokenized words with their frequencies, each as a sequence of token ids.
  std::map<std::string, int> word_count;
  for (auto [b, e] : text::Regex(kLlama3SplitPattern).find_all(kTrainingText))
    ++word_count[std::string(kTrainingText.substr(b, e - b))];
  std::vector<std::pair<std::vector<int>, int>> words;
  for (const auto& [w, count] : word_count) {
    std::vector<int> ids;
    for (unsigned char ch : w) ids.push_back(ch);
    words.emplace_back(std::move(ids), count);
  }

  const int target_model_tokens = vocab_size - kSpecial;
  std::vector<std::pair<int, int>> merges;
  while (static_cast<int>(tokens.size()) < target_model_tokens) {
    std::map<std::pair<int, int>, long> pair_count;
    for (const auto& [ids, count] : words)
      for (size_t k = 0; k + 1 < ids.size(); ++k) pair_count[{ids[k], ids[k + 1]}] += count;
    // Most frequent pair; ties go to the pair whose texts sort first, so the result never depends on ids.
    const std::pair<int, int>* best = nullptr;
    long best_count = 1;  // a pair must occur at least twice to be worth a token
    for (const auto& [pair, count] : pair_count) {
      if (count < best_count) continue;
      if (count > best_count || !best ||
          std::tie(tokens[pair.first], tokens[pair.second]) < std::tie(tokens[best->first], tokens[best->second])) {
        best = &pair;
        best_count = count;
      }
    }
    if (!best) break;
    const auto [left, right] = *best;
    const std::string merged = tokens[left] + tokens[right];
    int merged_id;
    if (auto it = token_id.find(merged); it != token_id.end()) {
      merged_id = it->second;
    } else {
      merged_id = static_cast<int>(tokens.size());
      tokens.push_back(merged);
      token_id[merged] = merged_id;
    }
    merges.emplace_back(left, right);
    for (auto& [ids, count] : words) {
      std::vector<int> out;
      out.reserve(ids.size());
      for (size_t k = 0; k < ids.size(); ++k) {
        if (k + 1 < ids.size() && ids[k] == left && ids[k + 1] == right) {
          out.push_back(merged_id);
          ++k;
        } else {
          out.push_back(ids[k]);
        }
      }
      ids = std::move(out);
    }
  }

  using json = nlohmann::ordered_json;
  json added = json::array();
  auto add_special = [&](int id, const std::string& content) {
    added.push_back({{"id", id},
                     {"content", content},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});
  };
  const int model_tokens = static_cast<int>(tokens.size());
  for (int id = model_tokens; id < target_model_tokens; ++id)
    add_special(id, "<|reserved_special_token_" + std::to_string(id - model_tokens) + "|>");
  const int bos = vocab_size - 2, eos = vocab_size - 1;
  add_special(bos, "<|begin_of_text|>");
  add_special(eos, "<|end_of_text|>");

  json vocab = json::object();
  for (int id = 0; id < model_tokens; ++id) vocab[tokens[id]] = id;
  json merge_list = json::array();
  for (const auto& [l, r] : merges) merge_list.push_back(tokens[l] + " " + tokens[r]);

  const std::string split_pattern = kLlama3SplitPattern;
  json doc;
  doc["version"] = "1.0";
  doc["truncation"] = nullptr;
  doc["padding"] = nullptr;
  doc["added_tokens"] = added;
  doc["normalizer"] = nullptr;
  doc["pre_tokenizer"] = {{"type", "Sequence"},
                          {"pretokenizers", json::array({json{{"type", "Split"},
                                                              {"pattern", {{"Regex", split_pattern}}},
                                                              {"behavior", "Isolated"},
                                                              {"invert", false}},
                                                         json{{"type", "ByteLevel"},
                                                              {"add_prefix_space", false},
                                                              {"trim_offsets", true},
                                                              {"use_regex", false}}})}};
  const json bos_piece = {{"SpecialToken", {{"id", "<|begin_of_text|>"}, {"type_id", 0}}}};
  doc["post_processor"] = {
      {"type", "Sequence"},
      {"processors",
       json::array(
           {json{{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", false}, {"use_regex", true}},
            json{{"type", "TemplateProcessing"},
                 {"single", json::array({bos_piece, json{{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})},
                 {"pair", json::array({bos_piece, json{{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                                       json{{"SpecialToken", {{"id", "<|begin_of_text|>"}, {"type_id", 1}}}},
                                       json{{"Sequence", {{"id", "B"}, {"type_id", 1}}}}})},
                 {"special_tokens",
                  {{"<|begin_of_text|>",
                    {{"id", "<|begin_of_text|>"},
                     {"ids", json::array({bos})},
                     {"tokens", json::array({"<|begin_of_text|>"})}}}}}}})}};
  doc["decoder"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}};
  doc["model"] = {{"type", "BPE"},
                  {"dropout", nullptr},
                  {"unk_token", nullptr},
                  {"continuing_subword_prefix", nullptr},
                  {"end_of_word_suffix", nullptr},
                  {"fuse_unk", false},
                  {"byte_fallback", false},
                  {"ignore_merges", true},
                  {"vocab", vocab},
                  {"merges", merge_list}};
  return doc.dump(2) + "\n";
}

}  // namespace wafersim::models
