// Tokenizer semantics on small hand-written tokenizer.json files (merge order, byte fallback, split behaviours,
// added tokens, post-processors, decoders), the built-in small tokenizer, and errors for bad files.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/error.hpp"
#include "models/tokenizer.hpp"
#include "models/tokenizer_builder.hpp"
#include "models/tokenizer_text.hpp"
#include "sc_tests/test_dir.hpp"

namespace wafersim::models {
namespace {

using json = nlohmann::json;
using Ids = std::vector<int32_t>;

Tokenizer make(const json& doc) { return Tokenizer::from_json(doc.dump(), "test-tokenizer.json"); }

// A BPE model over `vocab` with `merges`, and nothing else in the pipeline unless the caller adds it.
json bpe(const json& vocab, const json& merges, const json& extra_model_fields = json::object()) {
  json model = {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}};
  model.update(extra_model_fields);
  return {{"version", "1.0"}, {"added_tokens", json::array()}, {"model", model}};
}

json added_token(int id, const std::string& content, bool special = true, bool lstrip = false, bool rstrip = false) {
  return {{"id", id},         {"content", content},  {"single_word", false}, {"lstrip", lstrip},
          {"rstrip", rstrip}, {"normalized", false}, {"special", special}};
}

TEST(TokenizerBpe, MergesApplyInRankOrderNotTextOrder) {
  const json vocab = {{"a", 0}, {"b", 1}, {"c", 2}, {"ab", 3}, {"bc", 4}};
  EXPECT_EQ(make(bpe(vocab, {"b c", "a b"})).encode("abc"), (Ids{0, 4}));
  EXPECT_EQ(make(bpe(vocab, {"a b", "b c"})).encode("abc"), (Ids{3, 2}));
}

TEST(TokenizerBpe, EqualRanksMergeLeftmostFirst) {
  const json vocab = {{"a", 0}, {"aa", 1}};
  EXPECT_EQ(make(bpe(vocab, {"a a"})).encode("aaa"), (Ids{1, 0}));
  EXPECT_EQ(make(bpe(vocab, {"a a"})).encode("aaaa"), (Ids{1, 1}));
}

TEST(TokenizerBpe, ModelWithoutMergesOrTypeIsStillBpe) {
  const json no_merges = {{"model", {{"type", "BPE"}, {"vocab", {{"a", 0}, {"b", 1}}}}}};
  EXPECT_EQ(make(no_merges).encode("ab"), (Ids{0, 1}));
  const json no_type = {{"model", {{"vocab", {{"a", 0}, {"b", 1}, {"ab", 2}}}, {"merges", {"a b"}}}}};
  EXPECT_EQ(make(no_type).encode("ab"), (Ids{2}));
}

TEST(TokenizerBpe, MergesMayBeStringsOrPairs) {
  const json vocab = {{"a", 0}, {"b", 1}, {"ab", 2}};
  const json as_pairs = json::array({json::array({"a", "b"})});
  EXPECT_EQ(make(bpe(vocab, json::array({"a b"}))).encode("abab"), (Ids{2, 2}));
  EXPECT_EQ(make(bpe(vocab, as_pairs)).encode("abab"), (Ids{2, 2}));
}

TEST(TokenizerBpe, IgnoreMergesTakesAWholeWordFromTheVocabulary) {
  const json vocab = {{"a", 0}, {"b", 1}, {"c", 2}, {"ab", 3}, {"abc", 4}};
  EXPECT_EQ(make(bpe(vocab, {"a b"})).encode("abc"), (Ids{3, 2}));
  EXPECT_EQ(make(bpe(vocab, {"a b"}, {{"ignore_merges", true}})).encode("abc"), (Ids{4}));
}

TEST(TokenizerBpe, UnknownCharactersUseByteFallbackThenUnkThenAreDropped) {
  const json vocab = {{"<unk>", 0}, {"<0xC3>", 1}, {"<0xA9>", 2}, {"a", 3}};
  EXPECT_EQ(make(bpe(vocab, json::array(), {{"byte_fallback", true}})).encode("aé"), (Ids{3, 1, 2}));
  EXPECT_EQ(make(bpe(vocab, json::array(), {{"unk_token", "<unk>"}, {"fuse_unk", true}})).encode("aééa"),
            (Ids{3, 0, 3}));
  EXPECT_EQ(make(bpe(vocab, json::array(), {{"unk_token", "<unk>"}})).encode("aééa"), (Ids{3, 0, 0, 3}));
  EXPECT_EQ(make(bpe(vocab, json::array())).encode("aéa"), (Ids{3, 3}));
}

TEST(TokenizerBpe, ContinuingSubwordPrefixAndEndOfWordSuffix) {
  const json vocab = {{"a", 0}, {"##b", 1}, {"##c</w>", 2}, {"ab", 3}};
  const json doc = bpe(vocab, {"a ##b"}, {{"continuing_subword_prefix", "##"}, {"end_of_word_suffix", "</w>"}});
  EXPECT_EQ(make(doc).encode("abc"), (Ids{3, 2}));
}

// The pieces a Split pre-tokenizer makes, made visible: with ignore_merges every piece in the vocabulary is one
// token, and without a decoder, decode joins tokens with spaces (as Hugging Face does).
std::string split_pieces(const std::string& behavior, const std::string& text) {
  json vocab = json::object();
  int id = 0;
  for (const char* piece : {"the", "-", "final", "countdown", "the-", "final-", "-final", "-countdown", "--"})
    vocab[piece] = id++;
  json doc = bpe(vocab, json::array(), {{"ignore_merges", true}});
  doc["pre_tokenizer"] = {
      {"type", "Split"}, {"pattern", {{"String", "-"}}}, {"behavior", behavior}, {"invert", false}};
  const Tokenizer tok = make(doc);
  return tok.decode(tok.encode(text));
}

TEST(TokenizerPreTokenizer, SplitBehavioursPlaceTheDelimiterLikeHuggingFace) {
  const std::string text = "the-final--countdown";
  EXPECT_EQ(split_pieces("Removed", text), "the final countdown");
  EXPECT_EQ(split_pieces("Isolated", text), "the - final - - countdown");
  EXPECT_EQ(split_pieces("MergedWithPrevious", text), "the- final- - countdown");
  EXPECT_EQ(split_pieces("MergedWithNext", text), "the -final - -countdown");
  EXPECT_EQ(split_pieces("Contiguous", text), "the - final -- countdown");
}

json metaspace_doc(const std::string& scheme) {
  json doc = bpe({{"▁hello", 0}, {"▁world", 1}, {"hello", 2}, {"▁", 3}}, json::array(), {{"ignore_merges", true}});
  doc["added_tokens"] = json::array({added_token(4, "<sep>")});
  doc["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", "▁"}, {"prepend_scheme", scheme}, {"split", true}};
  doc["decoder"] = {{"type", "Metaspace"}, {"replacement", "▁"}, {"prepend_scheme", scheme}, {"split", true}};
  return doc;
}

TEST(TokenizerPreTokenizer, MetaspacePrependsFirstOrAlwaysAndDecodesBack) {
  const Tokenizer first = make(metaspace_doc("first"));
  EXPECT_EQ(first.encode("hello world"), (Ids{0, 1}));
  EXPECT_EQ(first.encode("<sep>hello"), (Ids{4, 2}));  // "first": only the start of the input gets a ▁
  EXPECT_EQ(first.decode({0, 1}), "hello world");
  EXPECT_EQ(first.decode({3, 0}), " hello");  // every ▁ of the first token is dropped, later ones are spaces
  EXPECT_EQ(make(metaspace_doc("always")).encode("<sep>hello"), (Ids{4, 0}));
}

// The normalized text, made visible: every character is its own token and decode joins them with spaces.
std::string normalized_by(const json& normalizer, const std::string& text) {
  json vocab = json::object();
  int id = 0;
  for (const char* c : {"e", "é", "f", "i", "fi", "à", "b", "σ", "ς", "\u0301", "x"}) vocab[c] = id++;
  json doc = bpe(vocab, json::array());
  doc["normalizer"] = normalizer;
  const Tokenizer tok = make(doc);
  return tok.decode(tok.encode(text));
}

TEST(TokenizerNormalizer, UnicodeFormsAndLowercase) {
  EXPECT_EQ(normalized_by({{"type", "NFC"}}, "e\u0301x"), "é x");
  EXPECT_EQ(normalized_by({{"type", "NFD"}}, "éx"), "e \u0301 x");
  EXPECT_EQ(normalized_by({{"type", "NFKC"}}, "\uFB01x"), "f i x");   // the ﬁ ligature
  EXPECT_EQ(normalized_by({{"type", "NFC"}}, "\uFB01x"), "x");        // NFC keeps ﬁ, which is not in the vocabulary
  EXPECT_EQ(normalized_by({{"type", "Lowercase"}}, "ÀBΣ"), "à b σ");  // per character: no final-sigma rule
  EXPECT_EQ(normalized_by({{"type", "Sequence"},
                           {"normalizers", json::array({json{{"type", "NFKD"}}, json{{"type", "Lowercase"}}})}},
                          "É"),
            "e \u0301");
}

TEST(TokenizerAddedTokens, LongestMatchWinsAndStripFlagsEatSpaces) {
  json doc = bpe({{"a", 0}, {"b", 1}, {" ", 2}, {"<", 3}, {">", 4}, {"m", 5}}, json::array());
  doc["added_tokens"] = json::array({added_token(6, "<m>", true, true, true), added_token(7, "<m>>")});
  const Tokenizer tok = make(doc);
  EXPECT_EQ(tok.encode("a <m> b"), (Ids{0, 6, 1}));
  EXPECT_EQ(tok.encode("a<m>>b"), (Ids{0, 7, 1}));
  EXPECT_EQ(tok.encode("a<mb"), (Ids{0, 3, 5, 1}));
  EXPECT_EQ(tok.token_to_id("<m>>"), 7);
  EXPECT_EQ(tok.vocab_size(), 8);
  EXPECT_EQ(tok.decode({0, 6, 1}, true), "a b");  // no decoder: tokens joined by spaces
}

TEST(TokenizerPostProcessor, TemplateAddsItsTokensOnlyWhenAsked) {
  json doc = bpe({{"a", 0}, {"<bos>", 1}, {"<eos>", 2}}, json::array());
  doc["post_processor"] = {
      {"type", "TemplateProcessing"},
      {"single", json::array({json{{"SpecialToken", {{"id", "<bos>"}, {"type_id", 0}}}},
                              json{{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                              json{{"SpecialToken", {{"id", "<eos>"}, {"type_id", 0}}}}})},
      {"special_tokens",
       {{"<bos>", {{"id", "<bos>"}, {"ids", json::array({1})}, {"tokens", json::array({"<bos>"})}}},
        {"<eos>", {{"id", "<eos>"}, {"ids", json::array({2})}, {"tokens", json::array({"<eos>"})}}}}}};
  const Tokenizer tok = make(doc);
  EXPECT_EQ(tok.encode("aa"), (Ids{1, 0, 0, 2}));
  EXPECT_EQ(tok.encode("aa", false), (Ids{0, 0}));
  doc["post_processor"] = {
      {"type", "BertProcessing"}, {"cls", json::array({"<bos>", 1})}, {"sep", json::array({"<eos>", 2})}};
  EXPECT_EQ(make(doc).encode("a"), (Ids{1, 0, 2}));
}

TEST(TokenizerDecoder, Llama2ChainReplacesFallsBackFusesAndStrips) {
  json doc = bpe({{"▁hi", 0}, {"<0xE2>", 1}, {"<0x82>", 2}, {"<0xAC>", 3}, {"▁", 4}, {"x", 5}}, json::array());
  doc["decoder"] = {
      {"type", "Sequence"},
      {"decoders", json::array({json{{"type", "Replace"}, {"pattern", {{"String", "▁"}}}, {"content", " "}},
                                json{{"type", "ByteFallback"}}, json{{"type", "Fuse"}},
                                json{{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}})}};
  const Tokenizer tok = make(doc);
  EXPECT_EQ(tok.decode({0, 4, 1, 2, 3}), "hi €");
  EXPECT_EQ(tok.decode({4, 4, 5}), " x");                 // only one leading space is stripped
  EXPECT_EQ(tok.decode({5, 1, 2, 5}), "x\uFFFD\uFFFDx");  // an incomplete sequence: one U+FFFD per byte
}

TEST(TokenizerDecoder, ByteLevelReadsTheBytesOfAllTokensAsUtf8) {
  const std::string json_text = build_small_tokenizer_json(300);
  const Tokenizer tok = Tokenizer::from_json(json_text);
  // Byte tokens are ids 0..255 in byte order: 0xE2 0x82 0xAC is "€".
  EXPECT_EQ(tok.decode({0xE2, 0x82, 0xAC}), "€");
  EXPECT_EQ(tok.decode({0xE2, 0x82}), "\uFFFD");  // one U+FFFD for an incomplete sequence
  EXPECT_EQ(tok.decode({0xFF, 'a'}), "\uFFFDa");
}

TEST(TokenizerEncode, RejectsTextThatIsNotUtf8) {
  const Tokenizer tok = Tokenizer::from_json(build_small_tokenizer_json(300));
  EXPECT_THROW(tok.encode(std::string("ab\xFF")), std::invalid_argument);
  EXPECT_THROW(tok.encode(std::string("\xC0\xAF")), std::invalid_argument);  // overlong '/'
}

TEST(TokenizerRegex, ClassesMeanWhatTheyMeanInOniguruma) {
  using text::Regex;
  auto matches = [](const char* pattern, const std::string& s) { return Regex(pattern).find_all(s).size(); };
  // \s: U+0085 (NEL), U+00A0, U+3000 are white space; U+180E and U+FEFF are not (PCRE2 alone would take U+180E).
  EXPECT_EQ(matches(R"(\s)", "\u0085\u00A0\u3000\u2028"), 4u);
  EXPECT_EQ(matches(R"(\s)", "\u180E\uFEFF\u200B"), 0u);
  EXPECT_EQ(matches(R"([^\s\p{L}])", "\u180E a\u0085"), 1u);
  EXPECT_EQ(matches(R"(\S+)", "a\u180Eb c"), 2u);
  // \w includes combining marks and connector punctuation; \h is a hex digit.
  EXPECT_EQ(Regex(R"(\w+)").find_all("e\u0301\u203F_x y"), (std::vector<std::pair<size_t, size_t>>{{0, 8}, {9, 10}}));
  EXPECT_EQ(matches(R"(\h)", "0aFg "), 3u);
  EXPECT_EQ(text::oniguruma_to_pcre2(R"([]\s])"), R"([]\t\n\x0B\f\r\x{85}\p{Z}])");
}

// --- the built-in small tokenizer ---------------------------------------------------------------------------

const std::vector<std::string> kRoundTrip = {"Hello world",
                                             " leading space",
                                             "trailing space ",
                                             "The quick brown fox jumps over the lazy dog.",
                                             "It's 2026; they're here.",
                                             "for (int i = 0; i < n; ++i) {\n  sum += x[i];\n}\n",
                                             "tabs\tand\r\nnewlines\n\n",
                                             "café, Привет, こんにちは, 你好, 😀👍🏽",
                                             "1234567890 3.14159",
                                             "",
                                             " ",
                                             "   \n  ",
                                             "<|end_of_text|> inside"};

TEST(TokenizerBuilder, SmallTokenizerLoadsAndRoundTripsText) {
  const Tokenizer tok = Tokenizer::from_json(build_small_tokenizer_json(512));
  EXPECT_EQ(tok.vocab_size(), 512);
  EXPECT_EQ(tok.token_to_id("<|begin_of_text|>"), 510);
  EXPECT_EQ(tok.token_to_id("<|end_of_text|>"), 511);
  for (const auto& s : kRoundTrip) {
    const Ids ids = tok.encode(s);
    ASSERT_FALSE(ids.empty());
    EXPECT_EQ(ids[0], 510) << "BOS first for \"" << s << "\"";
    for (int32_t id : ids) EXPECT_LT(id, 512);
    EXPECT_EQ(tok.decode(ids), "<|begin_of_text|>" + s);
    EXPECT_EQ(tok.decode(ids, true), s.find("<|end_of_text|>") == 0 ? s.substr(15) : s);
    EXPECT_EQ(tok.decode(tok.encode(s, false)), s);
  }
  EXPECT_EQ(tok.encode("<|end_of_text|>", false), (Ids{511}));
}

TEST(TokenizerBuilder, LearnedMergesCompressEnglishAndCode) {
  const Tokenizer tok = Tokenizer::from_json(build_small_tokenizer_json(1024));
  const std::string text = "The model of the wafer is fast, because the machine is large. return value;";
  EXPECT_LT(tok.encode(text, false).size(), text.size() / 2);
}

TEST(TokenizerBuilder, IsDeterministicAndHasExactlyTheRequestedSize) {
  EXPECT_EQ(build_small_tokenizer_json(700), build_small_tokenizer_json(700));
  for (int v : {258, 300, 2048, 32000}) {
    const Tokenizer tok = Tokenizer::from_json(build_small_tokenizer_json(v));
    EXPECT_EQ(tok.vocab_size(), v);
    EXPECT_EQ(tok.token_to_id("<|begin_of_text|>"), v - 2);
    EXPECT_EQ(tok.token_to_id("<|end_of_text|>"), v - 1);
    EXPECT_EQ(tok.decode(tok.encode("Hello, world!"), true), "Hello, world!");
  }
  EXPECT_THROW(build_small_tokenizer_json(257), std::invalid_argument);
}

TEST(TokenizerEncode, ConcurrentEncodersShareTheCacheSafely) {
  const Tokenizer tok = Tokenizer::from_json(build_small_tokenizer_json(800));
  std::vector<std::string> texts;
  for (int i = 0; i < 200; ++i)
    texts.push_back("word" + std::to_string(i * 7919) + " the wafer, again and again " + std::to_string(i));
  const Tokenizer reference = Tokenizer::from_json(build_small_tokenizer_json(800));  // its own cache
  std::vector<Ids> expected;
  for (const auto& t : texts) expected.push_back(reference.encode(t));
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int k = 0; k < 4; ++k)
    threads.emplace_back([&, k] {
      for (int round = 0; round < 20; ++round)
        for (size_t i = 0; i < texts.size(); ++i)
          if (const size_t j = (i + k * 37) % texts.size(); tok.encode(texts[j]) != expected[j]) ++mismatches[k];
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(mismatches, (std::vector<int>{0, 0, 0, 0}));
}

// --- bad files -------------------------------------------------------------------------------------------------

class TokenizerBadFile : public ::testing::Test {
 protected:
  // Writes `text` to a file and expects load() to fail with a ConfigError naming the file and `field`.
  void expect_error(const std::string& text, const std::string& field) {
    const auto path = dir_ / "tokenizer.json";
    std::ofstream(path, std::ios::binary) << text;
    try {
      Tokenizer::load(path);
      ADD_FAILURE() << "no error for: " << text.substr(0, 200);
    } catch (const ConfigError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(path.string()), std::string::npos) << what;
      EXPECT_NE(what.find(field), std::string::npos) << "expected '" << field << "' in: " << what;
    }
  }
  wafersim::test::TestDir dir_;
};

TEST_F(TokenizerBadFile, MalformedJson) { expect_error("{\"model\": {\"type\": \"BPE\", ", "not valid JSON"); }

TEST_F(TokenizerBadFile, NotAnObject) { expect_error("[1, 2, 3]", "expected a JSON object"); }

TEST_F(TokenizerBadFile, MissingModel) { expect_error(R"({"version": "1.0", "added_tokens": []})", "model"); }

TEST_F(TokenizerBadFile, UnknownModelType) {
  expect_error(R"({"model": {"type": "WordPiece", "vocab": {"a": 0}}})", "model.type");
  expect_error(R"({"model": {"type": "Mystery", "vocab": {}, "merges": []}})", "unsupported model type \"Mystery\"");
}

TEST_F(TokenizerBadFile, VocabOrMergesOfTheWrongShape) {
  expect_error(R"({"model": {"type": "BPE", "vocab": [1, 2], "merges": []}})", "model.vocab");
  expect_error(R"({"model": {"type": "BPE", "vocab": {"a": "zero"}, "merges": []}})", "model.vocab[\"a\"]");
  expect_error(R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": {"a": "b"}}})", "model.merges");
  expect_error(R"({"model": {"vocab": {"a": 0}}})", "model.type: missing");
  expect_error(R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a x"]}})", "model.merges[0]");
  expect_error(R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a a"]}})", "merged token \"aa\"");
  expect_error(R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [], "unk_token": "<unk>"}})",
               "model.unk_token");
}

TEST_F(TokenizerBadFile, UnsupportedOrBrokenPipelineParts) {
  const std::string model = R"("model": {"type": "BPE", "vocab": {"a": 0}, "merges": []})";
  expect_error("{" + model + R"(, "normalizer": {"type": "Precompiled", "precompiled_charsmap": ""}})",
               "normalizer.type");
  expect_error("{" + model + R"(, "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Bogus"}]}})",
               "pre_tokenizer.pretokenizers[0].type");
  expect_error("{" + model + R"(, "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "(unclosed"},
                                  "behavior": "Isolated", "invert": false}})",
               "pre_tokenizer.pattern.Regex");
  expect_error("{" + model + R"(, "decoder": {"type": "Strip", "content": "ab", "start": 1, "stop": 0}})",
               "decoder.content");
  expect_error("{" + model + R"(, "post_processor": {"type": "TemplateProcessing", "single": [
                                  {"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                                  "special_tokens": {}}})",
               "post_processor.single[0].SpecialToken.id");
  expect_error("{" + model + R"(, "added_tokens": [{"content": "<s>"}]})", "added_tokens[0].id");
}

TEST_F(TokenizerBadFile, TemplateTokenOutsideTheVocabulary) {
  expect_error(R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},
                  "post_processor": {"type": "BertProcessing", "cls": ["<cls>", 5], "sep": ["<sep>", 0]}})",
               "post_processor: adds token id 5");
}

TEST_F(TokenizerBadFile, ImplausiblyLargeIdIsRejectedNotAllocated) {
  expect_error(R"({"model": {"type": "BPE", "vocab": {"a": 2000000000}, "merges": []}})", "model.vocab[\"a\"]");
}

// Random damage to a valid file (truncation, byte changes, deleted spans, numbers swapped for others) must end
// in a loaded tokenizer or a ConfigError, never in another exception or a crash.
TEST(TokenizerMutatedFile, LoadsOrFailsWithConfigError) {
  const std::string good = build_small_tokenizer_json(300);
  std::mt19937 rng(20261128);
  const std::string alphabet = "{}[]\":, 0123456789-eE.atrufnl\\";
  int loaded = 0, rejected = 0;
  for (int trial = 0; trial < 400; ++trial) {
    std::string bad = good;
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits && !bad.empty(); ++e) {
      const size_t pos = rng() % bad.size();
      switch (rng() % 4) {
        case 0:
          bad.resize(pos);
          break;
        case 1:
          bad[pos] = alphabet[rng() % alphabet.size()];
          break;
        case 2:
          bad.erase(pos, 1 + rng() % 64);
          break;
        default:
          bad.insert(pos, std::to_string(static_cast<int64_t>(rng()) - (1LL << 31)));
          break;
      }
    }
    try {
      const Tokenizer tok = Tokenizer::from_json(bad, "mutated.json");
      (void)tok.decode(tok.encode("Hello, world! 123"));
      ++loaded;
    } catch (const ConfigError& e) {
      EXPECT_EQ(std::string(e.what()).rfind("mutated.json: ", 0), 0u) << e.what();
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 100);
  std::cout << "[          ] mutated files: " << loaded << " loaded, " << rejected << " rejected\n";
}

TEST_F(TokenizerBadFile, MissingFile) {
  try {
    Tokenizer::load(dir_ / "absent.json");
    ADD_FAILURE() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("absent.json"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace wafersim::models
