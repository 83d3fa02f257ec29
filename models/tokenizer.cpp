// tokenizer.json loading and the encode/decode pipeline:
//   text -> split out added tokens -> normalizer -> split out normalized added tokens -> pre-tokenizer
//        -> BPE per pre-token (cached) -> post-processor (only with add_special_tokens)
//   ids  -> token strings -> decoder chain -> concatenation
#include "models/tokenizer.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <queue>
#include <sstream>
#include <stdexcept>
#include <unordered_map>

#include "common/error.hpp"
#include "models/tokenizer_text.hpp"

namespace wafersim::models {

using json = nlohmann::json;

namespace {

// ---------------------------------------------------------------------------------------------------------
// Reading fields with errors that name the file and the field.

struct Reader {
  std::string source;

  [[noreturn]] void fail(const std::string& field, const std::string& what) const {
    throw ConfigError(source + ": " + field + ": " + what);
  }
  const json& member(const json& obj, const std::string& key, const std::string& path) const {
    if (!obj.is_object()) fail(path, "expected an object");
    auto it = obj.find(key);
    if (it == obj.end()) fail(path.empty() ? key : path + "." + key, "missing");
    return *it;
  }
  const json* optional(const json& obj, const std::string& key) const {
    auto it = obj.find(key);
    return it == obj.end() || it->is_null() ? nullptr : &*it;
  }
  std::string string(const json& obj, const std::string& key, const std::string& path) const {
    const json& v = member(obj, key, path);
    if (!v.is_string()) fail(path + "." + key, "expected a string, got " + std::string(v.type_name()));
    return v.get<std::string>();
  }
  std::string string_or(const json& obj, const std::string& key, const std::string& path, std::string dflt) const {
    const json* v = optional(obj, key);
    if (!v) return dflt;
    if (!v->is_string()) fail(path + "." + key, "expected a string, got " + std::string(v->type_name()));
    return v->get<std::string>();
  }
  bool boolean_or(const json& obj, const std::string& key, const std::string& path, bool dflt) const {
    const json* v = optional(obj, key);
    if (!v) return dflt;
    if (!v->is_boolean()) fail(path + "." + key, "expected true or false, got " + std::string(v->type_name()));
    return v->get<bool>();
  }
  int64_t integer(const json& v, const std::string& path) const {
    if (!v.is_number_integer()) fail(path, "expected an integer, got " + std::string(v.type_name()));
    return v.get<int64_t>();
  }
  int64_t integer_or(const json& obj, const std::string& key, const std::string& path, int64_t dflt) const {
    const json* v = optional(obj, key);
    return v ? integer(*v, path + "." + key) : dflt;
  }
  const json& array(const json& obj, const std::string& key, const std::string& path) const {
    const json& v = member(obj, key, path);
    if (!v.is_array()) fail(path + "." + key, "expected an array, got " + std::string(v.type_name()));
    return v;
  }
  std::string type(const json& obj, const std::string& path) const {
    if (!obj.is_object()) fail(path, "expected an object, got " + std::string(obj.type_name()));
    return string(obj, "type", path);
  }
  // A single character given as a string (Metaspace replacement, Strip content).
  std::string one_char(const json& obj, const std::string& key, const std::string& path, std::string dflt) const {
    std::string s = string_or(obj, key, path, std::move(dflt));
    size_t pos = 0;
    if (s.empty() || !text::is_valid_utf8(s) || (text::next_code_point(s, pos), pos != s.size()))
      fail(path + "." + key, "expected exactly one character, got \"" + s + "\"");
    return s;
  }
};

// Index of the field in a JSON array path, e.g. "normalizer.normalizers[1]".
std::string at(const std::string& path, const std::string& key, size_t index) {
  return path + "." + key + "[" + std::to_string(index) + "]";
}

// A "pattern" of Split/Replace: {"String": "..."} (literal) or {"Regex": "..."}.
class Pattern {
 public:
  Pattern(const Reader& r, const json& obj, const std::string& path) {
    if (!obj.is_object()) r.fail(path, "expected {\"String\": ...} or {\"Regex\": ...}");
    if (const json* s = r.optional(obj, "String")) {
      if (!s->is_string()) r.fail(path + ".String", "expected a string");
      literal_ = s->get<std::string>();
    } else if (const json* re = r.optional(obj, "Regex")) {
      if (!re->is_string()) r.fail(path + ".Regex", "expected a string");
      try {
        regex_ = std::make_unique<text::Regex>(re->get<std::string>());
      } catch (const std::invalid_argument& e) {
        r.fail(path + ".Regex", e.what());
      }
    } else {
      r.fail(path, "expected {\"String\": ...} or {\"Regex\": ...}");
    }
  }
  std::vector<std::pair<size_t, size_t>> find_all(std::string_view s) const {
    if (regex_) return regex_->find_all(s);
    std::vector<std::pair<size_t, size_t>> out;
    if (literal_.empty()) return out;
    for (size_t pos = s.find(literal_); pos != std::string_view::npos; pos = s.find(literal_, pos + literal_.size()))
      out.emplace_back(pos, pos + literal_.size());
    return out;
  }
  std::string replace_all(std::string_view s, std::string_view content) const {
    std::string out;
    size_t prev = 0;
    for (auto [b, e] : find_all(s)) {
      out.append(s.substr(prev, b - prev));
      out.append(content);
      prev = e;
    }
    out.append(s.substr(prev));
    return out;
  }

 private:
  std::string literal_;
  std::unique_ptr<text::Regex> regex_;
};

// ---------------------------------------------------------------------------------------------------------
// Normalizers: the whole (non-added-token) segment of text in, the normalized text out.

struct Normalizer {
  virtual ~Normalizer() = default;
  virtual void normalize(std::string& s) const = 0;
};

struct NormalizerSequence : Normalizer {
  std::vector<std::unique_ptr<Normalizer>> steps;
  void normalize(std::string& s) const override {
    for (const auto& n : steps) n->normalize(s);
  }
};

struct PrependNormalizer : Normalizer {
  std::string prefix;
  void normalize(std::string& s) const override {
    if (!s.empty()) s.insert(0, prefix);  // an empty string stays empty
  }
};

struct ReplaceNormalizer : Normalizer {
  std::unique_ptr<Pattern> pattern;
  std::string content;
  void normalize(std::string& s) const override { s = pattern->replace_all(s, content); }
};

struct StripNormalizer : Normalizer {
  bool left = true, right = true;
  void normalize(std::string& s) const override {
    size_t begin = 0, end = s.size();
    if (left) {
      while (begin < end) {
        size_t pos = begin;
        if (!text::is_unicode_whitespace(text::next_code_point(s, pos))) break;
        begin = pos;
      }
    }
    if (right) {
      while (end > begin) {
        size_t start = end - 1;
        while (start > begin && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
        size_t pos = start;
        if (!text::is_unicode_whitespace(text::next_code_point(s, pos))) break;
        end = start;
      }
    }
    s = s.substr(begin, end - begin);
  }
};

struct UnicodeFormNormalizer : Normalizer {
  text::NormalForm form = text::NormalForm::NFC;
  void normalize(std::string& s) const override { s = text::normalize_unicode(s, form); }
};

struct LowercaseNormalizer : Normalizer {
  void normalize(std::string& s) const override { s = text::lowercase_each(s); }
};

std::unique_ptr<Normalizer> make_normalizer(const Reader& r, const json& j, const std::string& path) {
  const std::string type = r.type(j, path);
  if (type == "Sequence") {
    auto seq = std::make_unique<NormalizerSequence>();
    const json& list = r.array(j, "normalizers", path);
    for (size_t i = 0; i < list.size(); ++i)
      seq->steps.push_back(make_normalizer(r, list[i], at(path, "normalizers", i)));
    return seq;
  }
  if (type == "Prepend") {
    auto n = std::make_unique<PrependNormalizer>();
    n->prefix = r.string(j, "prepend", path);
    return n;
  }
  if (type == "Replace") {
    auto n = std::make_unique<ReplaceNormalizer>();
    n->pattern = std::make_unique<Pattern>(r, r.member(j, "pattern", path), path + ".pattern");
    n->content = r.string(j, "content", path);
    return n;
  }
  if (type == "Strip") {
    auto n = std::make_unique<StripNormalizer>();
    n->left = r.boolean_or(j, "strip_left", path, true);
    n->right = r.boolean_or(j, "strip_right", path, true);
    return n;
  }
  for (auto [name, form] : {std::pair{"NFC", text::NormalForm::NFC},
                            {"NFD", text::NormalForm::NFD},
                            {"NFKC", text::NormalForm::NFKC},
                            {"NFKD", text::NormalForm::NFKD}}) {
    if (type == name) {
      auto n = std::make_unique<UnicodeFormNormalizer>();
      n->form = form;
      return n;
    }
  }
  if (type == "Lowercase") return std::make_unique<LowercaseNormalizer>();
  r.fail(path + ".type", "unsupported normalizer \"" + type +
                             "\" (supported: Sequence, Prepend, Replace, Strip, NFC, NFD, NFKC, NFKD, Lowercase)");
}

// ---------------------------------------------------------------------------------------------------------
// Pre-tokenizers: split the normalized text into pieces (and may transform them, e.g. ByteLevel).

struct Piece {
  std::string text;
  bool at_start;  // begins at the start of the input text (Metaspace's prepend_scheme "first")
};

enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

// Cuts `piece` at the given matches the way Hugging Face's SplitDelimiterBehavior does.
void split_piece(const Piece& piece, const std::vector<std::pair<size_t, size_t>>& matches, SplitBehavior behavior,
                 bool invert, std::vector<Piece>& out) {
  struct Seg {
    size_t b, e;
    bool delim;
  };
  std::vector<Seg> segs;
  size_t prev = 0;
  for (auto [b, e] : matches) {
    if (b > prev) segs.push_back({prev, b, invert});
    segs.push_back({b, e, !invert});
    prev = e;
  }
  if (prev < piece.text.size()) segs.push_back({prev, piece.text.size(), invert});

  std::vector<Seg> kept;
  switch (behavior) {
    case SplitBehavior::Removed:
      for (const auto& s : segs)
        if (!s.delim) kept.push_back(s);
      break;
    case SplitBehavior::Isolated:
      kept = segs;
      break;
    case SplitBehavior::MergedWithPrevious:
      for (const auto& s : segs) {
        if (s.delim && !kept.empty() && !kept.back().delim) {
          kept.back().e = s.e;
          kept.back().delim = true;  // a piece ends with its delimiter; the next delimiter stands alone
        } else {
          kept.push_back(s);
        }
      }
      break;
    case SplitBehavior::MergedWithNext:
      for (size_t k = segs.size(); k-- > 0;) {
        const auto& s = segs[k];
        if (s.delim && !kept.empty() && !kept.back().delim) {
          kept.back().b = s.b;
          kept.back().delim = true;
        } else {
          kept.push_back(s);
        }
      }
      std::reverse(kept.begin(), kept.end());
      break;
    case SplitBehavior::Contiguous:
      for (const auto& s : segs) {
        if (s.delim && !kept.empty() && kept.back().delim) {
          kept.back().e = s.e;
        } else {
          kept.push_back(s);
        }
      }
      break;
  }
  for (const auto& s : kept)
    if (s.e > s.b) out.push_back({piece.text.substr(s.b, s.e - s.b), piece.at_start && s.b == 0});
}

struct PreTokenizer {
  virtual ~PreTokenizer() = default;
  virtual void pre_tokenize(std::vector<Piece>& pieces) const = 0;
};

struct PreTokenizerSequence : PreTokenizer {
  std::vector<std::unique_ptr<PreTokenizer>> steps;
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    for (const auto& p : steps) p->pre_tokenize(pieces);
  }
};

// Shared shape of the splitting pre-tokenizers: find delimiters in each piece, then cut.
struct SplittingPreTokenizer : PreTokenizer {
  SplitBehavior behavior = SplitBehavior::Isolated;
  bool invert = false;
  virtual std::vector<std::pair<size_t, size_t>> delimiters(std::string_view s) const = 0;
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    std::vector<Piece> out;
    out.reserve(pieces.size());
    for (const auto& p : pieces) split_piece(p, delimiters(p.text), behavior, invert, out);
    pieces = std::move(out);
  }
};

struct SplitPreTokenizer : SplittingPreTokenizer {
  std::unique_ptr<Pattern> pattern;
  std::vector<std::pair<size_t, size_t>> delimiters(std::string_view s) const override {
    return pattern->find_all(s);
  }
};

struct RegexPreTokenizer : SplittingPreTokenizer {  // Digits, Whitespace: fixed patterns
  std::unique_ptr<text::Regex> regex;
  std::vector<std::pair<size_t, size_t>> delimiters(std::string_view s) const override { return regex->find_all(s); }
};

struct WhitespaceSplitPreTokenizer : SplittingPreTokenizer {
  WhitespaceSplitPreTokenizer() { behavior = SplitBehavior::Removed; }
  std::vector<std::pair<size_t, size_t>> delimiters(std::string_view s) const override {
    std::vector<std::pair<size_t, size_t>> out;
    for (size_t pos = 0; pos < s.size();) {
      const size_t start = pos;
      if (text::is_unicode_whitespace(text::next_code_point(s, pos))) {
        if (!out.empty() && out.back().second == start) {
          out.back().second = pos;
        } else {
          out.emplace_back(start, pos);
        }
      }
    }
    return out;
  }
};

// The GPT-2 pre-tokenization pattern that ByteLevel applies when use_regex is true.
constexpr const char* kGpt2Pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

struct ByteLevelPreTokenizer : PreTokenizer {
  bool add_prefix_space = true;
  std::unique_ptr<text::Regex> regex;  // null if use_regex is false
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    const auto& alphabet = text::ByteLevelAlphabet::get();
    std::vector<Piece> out;
    out.reserve(pieces.size());
    for (auto& p : pieces) {
      if (add_prefix_space && (p.text.empty() || p.text[0] != ' ')) p.text.insert(0, " ");
      if (regex) {
        split_piece(p, regex->find_all(p.text), SplitBehavior::Isolated, false, out);
      } else if (!p.text.empty()) {
        out.push_back(std::move(p));
      }
    }
    for (auto& p : out) p.text = alphabet.encode(p.text);
    pieces = std::move(out);
  }
};

struct MetaspacePreTokenizer : PreTokenizer {
  std::string replacement = "\xE2\x96\x81";  // ▁
  enum class Prepend { Always, First, Never } prepend = Prepend::Always;
  bool split = true;
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    std::vector<Piece> out;
    for (auto& p : pieces) {
      std::string s;
      for (char c : p.text) {
        if (c == ' ') {
          s += replacement;
        } else {
          s.push_back(c);
        }
      }
      const bool prepend_here = prepend == Prepend::Always || (prepend == Prepend::First && p.at_start);
      if (prepend_here && s.compare(0, replacement.size(), replacement) != 0) s.insert(0, replacement);
      Piece q{std::move(s), p.at_start};
      if (!split) {
        if (!q.text.empty()) out.push_back(std::move(q));
        continue;
      }
      std::vector<std::pair<size_t, size_t>> marks;
      for (size_t pos = q.text.find(replacement); pos != std::string::npos;
           pos = q.text.find(replacement, pos + replacement.size()))
        marks.emplace_back(pos, pos + replacement.size());
      split_piece(q, marks, SplitBehavior::MergedWithNext, false, out);
    }
    pieces = std::move(out);
  }
};

SplitBehavior parse_behavior(const Reader& r, const json& j, const std::string& path) {
  const std::string b = r.string(j, "behavior", path);
  if (b == "Removed") return SplitBehavior::Removed;
  if (b == "Isolated") return SplitBehavior::Isolated;
  if (b == "MergedWithPrevious") return SplitBehavior::MergedWithPrevious;
  if (b == "MergedWithNext") return SplitBehavior::MergedWithNext;
  if (b == "Contiguous") return SplitBehavior::Contiguous;
  r.fail(path + ".behavior", "unknown split behavior \"" + b + "\"");
}

MetaspacePreTokenizer::Prepend parse_prepend_scheme(const Reader& r, const json& j, const std::string& path) {
  if (const json* scheme = r.optional(j, "prepend_scheme")) {
    const std::string s = scheme->is_string() ? scheme->get<std::string>() : "";
    if (s == "always") return MetaspacePreTokenizer::Prepend::Always;
    if (s == "first") return MetaspacePreTokenizer::Prepend::First;
    if (s == "never") return MetaspacePreTokenizer::Prepend::Never;
    r.fail(path + ".prepend_scheme", "expected \"always\", \"first\" or \"never\"");
  }
  return r.boolean_or(j, "add_prefix_space", path, true) ? MetaspacePreTokenizer::Prepend::Always
                                                         : MetaspacePreTokenizer::Prepend::Never;
}

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const Reader& r, const json& j, const std::string& path) {
  const std::string type = r.type(j, path);
  if (type == "Sequence") {
    auto seq = std::make_unique<PreTokenizerSequence>();
    const json& list = r.array(j, "pretokenizers", path);
    for (size_t i = 0; i < list.size(); ++i)
      seq->steps.push_back(make_pre_tokenizer(r, list[i], at(path, "pretokenizers", i)));
    return seq;
  }
  if (type == "Split") {
    auto p = std::make_unique<SplitPreTokenizer>();
    p->pattern = std::make_unique<Pattern>(r, r.member(j, "pattern", path), path + ".pattern");
    p->behavior = parse_behavior(r, j, path);
    p->invert = r.boolean_or(j, "invert", path, false);
    return p;
  }
  if (type == "ByteLevel") {
    auto p = std::make_unique<ByteLevelPreTokenizer>();
    p->add_prefix_space = r.boolean_or(j, "add_prefix_space", path, true);
    if (r.boolean_or(j, "use_regex", path, true)) p->regex = std::make_unique<text::Regex>(kGpt2Pattern);
    return p;
  }
  if (type == "Metaspace") {
    auto p = std::make_unique<MetaspacePreTokenizer>();
    p->replacement = r.one_char(j, "replacement", path, p->replacement);
    p->prepend = parse_prepend_scheme(r, j, path);
    p->split = r.boolean_or(j, "split", path, true);
    return p;
  }
  if (type == "Digits") {
    auto p = std::make_unique<RegexPreTokenizer>();
    p->regex = std::make_unique<text::Regex>(R"(\p{N})");
    p->behavior =
        r.boolean_or(j, "individual_digits", path, false) ? SplitBehavior::Isolated : SplitBehavior::Contiguous;
    return p;
  }
  if (type == "Whitespace") {
    auto p = std::make_unique<RegexPreTokenizer>();
    p->regex = std::make_unique<text::Regex>(R"(\w+|[^\w\s]+)");
    p->behavior = SplitBehavior::Removed;
    p->invert = true;
    return p;
  }
  if (type == "WhitespaceSplit") return std::make_unique<WhitespaceSplitPreTokenizer>();
  r.fail(path + ".type",
         "unsupported pre-tokenizer \"" + type +
             "\" (supported: Sequence, Split, ByteLevel, Metaspace, Digits, Whitespace, WhitespaceSplit)");
}

// ---------------------------------------------------------------------------------------------------------
// Post-processors (applied only when add_special_tokens is true; a single sequence, no pairs).

struct PostProcessor {
  virtual ~PostProcessor() = default;
  virtual void process(std::vector<int32_t>& ids) const = 0;
};

struct PostProcessorSequence : PostProcessor {
  std::vector<std::unique_ptr<PostProcessor>> steps;
  void process(std::vector<int32_t>& ids) const override {
    for (const auto& p : steps) p->process(ids);
  }
};

struct NoOpPostProcessor : PostProcessor {  // ByteLevel: only trims offsets, which we do not produce
  void process(std::vector<int32_t>&) const override {}
};

// TemplateProcessing's "single" template, and Bert/Roberta's [cls] A [sep].
struct TemplatePostProcessor : PostProcessor {
  std::vector<std::vector<int32_t>> parts;  // an empty vector stands for the sequence itself
  void process(std::vector<int32_t>& ids) const override {
    std::vector<int32_t> out;
    out.reserve(ids.size() + 4);
    for (const auto& part : parts) {
      if (part.empty()) {
        out.insert(out.end(), ids.begin(), ids.end());
      } else {
        out.insert(out.end(), part.begin(), part.end());
      }
    }
    ids = std::move(out);
  }
};

std::unique_ptr<PostProcessor> make_post_processor(const Reader& r, const json& j, const std::string& path) {
  const std::string type = r.type(j, path);
  if (type == "Sequence") {
    auto seq = std::make_unique<PostProcessorSequence>();
    const json& list = r.array(j, "processors", path);
    for (size_t i = 0; i < list.size(); ++i)
      seq->steps.push_back(make_post_processor(r, list[i], at(path, "processors", i)));
    return seq;
  }
  if (type == "ByteLevel") return std::make_unique<NoOpPostProcessor>();
  if (type == "TemplateProcessing") {
    auto t = std::make_unique<TemplatePostProcessor>();
    std::map<std::string, std::vector<int32_t>> specials;
    if (const json* sp = r.optional(j, "special_tokens")) {
      if (!sp->is_object()) r.fail(path + ".special_tokens", "expected an object");
      for (const auto& [name, tok] : sp->items()) {
        const std::string p = path + ".special_tokens." + name;
        const json& ids = r.array(tok, "ids", p);
        std::vector<int32_t> v;
        for (size_t i = 0; i < ids.size(); ++i) v.push_back(static_cast<int32_t>(r.integer(ids[i], at(p, "ids", i))));
        if (v.empty()) r.fail(p + ".ids", "is empty");
        specials[name] = std::move(v);
      }
    }
    const json& single = r.array(j, "single", path);
    bool has_sequence = false;
    for (size_t i = 0; i < single.size(); ++i) {
      const std::string p = at(path, "single", i);
      if (const json* s = single[i].is_object() ? r.optional(single[i], "SpecialToken") : nullptr) {
        const std::string name = r.string(*s, "id", p + ".SpecialToken");
        auto it = specials.find(name);
        if (it == specials.end()) r.fail(p + ".SpecialToken.id", "\"" + name + "\" is not in special_tokens");
        t->parts.push_back(it->second);
      } else if (const json* q = single[i].is_object() ? r.optional(single[i], "Sequence") : nullptr) {
        const std::string id = r.string(*q, "id", p + ".Sequence");
        if (id != "A") r.fail(p + ".Sequence.id", "a single-sequence template can only hold sequence A");
        t->parts.emplace_back();
        has_sequence = true;
      } else {
        r.fail(p, "expected {\"SpecialToken\": ...} or {\"Sequence\": ...}");
      }
    }
    if (!has_sequence) r.fail(path + ".single", "does not contain the sequence A");
    return t;
  }
  if (type == "BertProcessing" || type == "RobertaProcessing") {
    auto token_id = [&](const char* key) {
      const json& v = r.member(j, key, path);
      if (!v.is_array() || v.size() != 2 || !v[0].is_string()) r.fail(path + "." + key, "expected [\"token\", id]");
      return static_cast<int32_t>(r.integer(v[1], path + "." + key + "[1]"));
    };
    auto t = std::make_unique<TemplatePostProcessor>();
    t->parts = {{token_id("cls")}, {}, {token_id("sep")}};
    return t;
  }
  r.fail(path + ".type",
         "unsupported post-processor \"" + type +
             "\" (supported: Sequence, ByteLevel, TemplateProcessing, BertProcessing, RobertaProcessing)");
}

// ---------------------------------------------------------------------------------------------------------
// Decoders: a list of token strings in, a list of strings out; the result is their concatenation.

struct Decoder {
  virtual ~Decoder() = default;
  virtual void decode_chain(std::vector<std::string>& tokens) const = 0;
};

struct DecoderSequence : Decoder {
  std::vector<std::unique_ptr<Decoder>> steps;
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (const auto& d : steps) d->decode_chain(tokens);
  }
};

// Characters back to bytes; a token with a character outside the alphabet (an added token such as "<|x y|>")
// contributes its own UTF-8 bytes. The bytes of all tokens are then read as UTF-8, lossily.
struct ByteLevelDecoder : Decoder {
  void decode_chain(std::vector<std::string>& tokens) const override {
    const auto& alphabet = text::ByteLevelAlphabet::get();
    std::string bytes;
    for (const auto& t : tokens) {
      const size_t mark = bytes.size();
      if (!alphabet.decode(t, bytes)) {
        bytes.resize(mark);
        bytes += t;
      }
    }
    tokens.assign(1, text::utf8_lossy(bytes));
  }
};

struct ReplaceDecoder : Decoder {
  std::unique_ptr<Pattern> pattern;
  std::string content;
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (auto& t : tokens) t = pattern->replace_all(t, content);
  }
};

// Runs of "<0xNN>" tokens become the text they encode; a run that is not valid UTF-8 becomes one U+FFFD per byte.
struct ByteFallbackDecoder : Decoder {
  static int byte_of(const std::string& t) {
    if (t.size() != 6 || t.compare(0, 3, "<0x") != 0 || t[5] != '>') return -1;
    int v = 0;
    for (int k = 3; k < 5; ++k) {
      const char c = t[k];
      const int d = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                           : -1;
      if (d < 0) return -1;
      v = v * 16 + d;
    }
    return v;
  }
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::vector<std::string> out;
    out.reserve(tokens.size());
    std::string run;
    auto flush = [&] {
      if (run.empty()) return;
      if (text::is_valid_utf8(run)) {
        out.push_back(run);
      } else {
        for (size_t k = 0; k < run.size(); ++k) out.emplace_back("\xEF\xBF\xBD");
      }
      run.clear();
    };
    for (auto& t : tokens) {
      const int b = byte_of(t);
      if (b >= 0) {
        run.push_back(static_cast<char>(b));
      } else {
        flush();
        out.push_back(std::move(t));
      }
    }
    flush();
    tokens = std::move(out);
  }
};

struct FuseDecoder : Decoder {
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string all;
    for (const auto& t : tokens) all += t;
    tokens.assign(1, std::move(all));
  }
};

// Removes up to `start` leading and `stop` trailing copies of `content` from every token.
struct StripDecoder : Decoder {
  std::string content;
  int64_t start = 0, stop = 0;
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (auto& t : tokens) {
      size_t b = 0, e = t.size();
      for (int64_t k = 0; k < start && t.compare(b, content.size(), content) == 0 && b < e; ++k) b += content.size();
      for (int64_t k = 0;
           k < stop && e >= b + content.size() && t.compare(e - content.size(), content.size(), content) == 0; ++k)
        e -= content.size();
      t = t.substr(b, e - b);
    }
  }
};

// The replacement becomes a space, except in the first token, where Hugging Face drops every replacement
// (not only a leading one) unless the prepend scheme is "never".
struct MetaspaceDecoder : Decoder {
  std::string replacement = "\xE2\x96\x81";
  bool drop_in_first_token = true;  // prepend_scheme != never
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string s;
      const std::string& t = tokens[i];
      for (size_t pos = 0; pos < t.size();) {
        if (t.compare(pos, replacement.size(), replacement) == 0) {
          if (!(i == 0 && drop_in_first_token)) s.push_back(' ');
          pos += replacement.size();
        } else {
          s.push_back(t[pos++]);
        }
      }
      tokens[i] = std::move(s);
    }
  }
};

struct BpeSuffixDecoder : Decoder {  // "BPEDecoder": end-of-word suffix -> space (none after the last token)
  std::string suffix;
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string out;
      const std::string& t = tokens[i];
      size_t prev = 0;
      for (size_t pos = suffix.empty() ? std::string::npos : t.find(suffix); pos != std::string::npos;
           pos = t.find(suffix, pos + suffix.size())) {
        out.append(t, prev, pos - prev);
        if (i + 1 != tokens.size()) out.push_back(' ');
        prev = pos + suffix.size();
      }
      out.append(t, prev, std::string::npos);
      tokens[i] = std::move(out);
    }
  }
};

std::unique_ptr<Decoder> make_decoder(const Reader& r, const json& j, const std::string& path) {
  const std::string type = r.type(j, path);
  if (type == "Sequence") {
    auto seq = std::make_unique<DecoderSequence>();
    const json& list = r.array(j, "decoders", path);
    for (size_t i = 0; i < list.size(); ++i) seq->steps.push_back(make_decoder(r, list[i], at(path, "decoders", i)));
    return seq;
  }
  if (type == "ByteLevel") return std::make_unique<ByteLevelDecoder>();
  if (type == "Replace") {
    auto d = std::make_unique<ReplaceDecoder>();
    d->pattern = std::make_unique<Pattern>(r, r.member(j, "pattern", path), path + ".pattern");
    d->content = r.string(j, "content", path);
    return d;
  }
  if (type == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
  if (type == "Fuse") return std::make_unique<FuseDecoder>();
  if (type == "Strip") {
    auto d = std::make_unique<StripDecoder>();
    d->content = r.one_char(j, "content", path, " ");
    d->start = r.integer_or(j, "start", path, 0);
    d->stop = r.integer_or(j, "stop", path, 0);
    if (d->start < 0 || d->stop < 0) r.fail(path, "start and stop must not be negative");
    return d;
  }
  if (type == "Metaspace") {
    auto d = std::make_unique<MetaspaceDecoder>();
    d->replacement = r.one_char(j, "replacement", path, d->replacement);
    d->drop_in_first_token = parse_prepend_scheme(r, j, path) != MetaspacePreTokenizer::Prepend::Never;
    return d;
  }
  if (type == "BPEDecoder") {
    auto d = std::make_unique<BpeSuffixDecoder>();
    d->suffix = r.string_or(j, "suffix", path, "</w>");
    return d;
  }
  r.fail(path + ".type",
         "unsupported decoder \"" + type +
             "\" (supported: Sequence, ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace, BPEDecoder)");
}

// ---------------------------------------------------------------------------------------------------------
// Added tokens: found in the text before anything else, leftmost-longest.

struct AddedToken {
  std::string content;  // as matched (normalized tokens: after normalization)
  int32_t id = 0;
  bool special = false, lstrip = false, rstrip = false, single_word = false, normalized = false;
};

struct Segment {
  std::string_view text;  // empty if this is an added token
  int32_t id = -1;        // >= 0 for an added token
  size_t offset = 0;      // byte offset in the string that was split
};

class AddedTokenMatcher {
 public:
  void add(const AddedToken* t) {
    if (t->content.empty()) return;
    by_first_byte_[static_cast<unsigned char>(t->content[0])].push_back(t);
  }
  void finish() {
    for (auto& list : by_first_byte_)
      std::stable_sort(list.begin(), list.end(), [](const AddedToken* a, const AddedToken* b) {
        return a->content.size() > b->content.size();
      });
  }
  bool empty() const {
    return std::all_of(by_first_byte_.begin(), by_first_byte_.end(), [](const auto& l) { return l.empty(); });
  }

  // Splits `s` into text and added-token segments.
  std::vector<Segment> split(std::string_view s) const {
    std::vector<Segment> out;
    size_t text_begin = 0;  // start of the pending text segment
    size_t pos = 0;
    while (pos < s.size()) {
      const AddedToken* hit = nullptr;
      for (const AddedToken* t : by_first_byte_[static_cast<unsigned char>(s[pos])]) {
        if (s.compare(pos, t->content.size(), t->content) == 0 &&
            (!t->single_word || is_single_word(s, pos, t->content.size()))) {
          hit = t;  // the list is longest-first
          break;
        }
      }
      if (!hit) {
        ++pos;
        continue;
      }
      size_t b = pos, e = pos + hit->content.size();
      if (hit->lstrip)
        while (b > text_begin && is_space_before(s, b)) b = char_start_before(s, b);
      if (hit->rstrip)
        while (e < s.size()) {
          size_t q = e;
          if (!text::is_unicode_whitespace(text::next_code_point(s, q))) break;
          e = q;
        }
      if (b > text_begin) out.push_back({s.substr(text_begin, b - text_begin), -1, text_begin});
      out.push_back({{}, hit->id, b});
      text_begin = pos = e;
    }
    if (text_begin < s.size()) out.push_back({s.substr(text_begin), -1, text_begin});
    return out;
  }

 private:
  static size_t char_start_before(std::string_view s, size_t pos) {
    size_t k = pos - 1;
    while (k > 0 && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) --k;
    return k;
  }
  static bool is_space_before(std::string_view s, size_t pos) {
    size_t k = char_start_before(s, pos);
    return text::is_unicode_whitespace(text::next_code_point(s, k));
  }
  static bool is_word_char_at(std::string_view s, size_t pos) {
    static const text::Regex word(R"(\A\w)");
    size_t end = pos;
    text::next_code_point(s, end);
    return !word.find_all(s.substr(pos, end - pos)).empty();
  }
  static bool is_single_word(std::string_view s, size_t pos, size_t len) {
    if (pos > 0 && is_word_char_at(s, char_start_before(s, pos))) return false;
    if (pos + len < s.size() && is_word_char_at(s, pos + len)) return false;
    return true;
  }
  std::array<std::vector<const AddedToken*>, 256> by_first_byte_;
};

// IDs index dense tables; real vocabularies stay far below this (LLaMA-3: 128256).
constexpr int64_t kMaxTokenId = int64_t{1} << 24;

inline uint64_t pair_key(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------

struct Tokenizer::Impl {
  std::string source;

  // BPE model
  std::unordered_map<std::string, int32_t> vocab;
  struct Merge {
    int32_t rank;
    int32_t new_id;
  };
  std::unordered_map<uint64_t, Merge> merges;
  std::optional<int32_t> unk_id;
  bool fuse_unk = false, byte_fallback = false, ignore_merges = false;
  std::string continuing_subword_prefix, end_of_word_suffix;
  std::array<int32_t, 256> byte_token{};  // "<0xNN>" ids for byte fallback, -1 if absent

  // all tokens by id
  std::vector<std::string> id_to_token;
  std::vector<uint8_t> id_valid, id_special;

  std::vector<std::unique_ptr<AddedToken>> added;
  std::unordered_map<std::string, int32_t> added_ids;  // by original content
  AddedTokenMatcher raw_matcher, normalized_matcher;

  std::unique_ptr<Normalizer> normalizer;
  std::unique_ptr<PreTokenizer> pre_tokenizer;
  std::unique_ptr<PostProcessor> post_processor;
  std::unique_ptr<Decoder> decoder;

  static constexpr size_t kCacheMaxWordBytes = 256, kCacheMaxEntries = 1 << 18;
  mutable std::mutex cache_mutex;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache;

  void load_model(const Reader& r, const json& model);
  void load_added_tokens(const Reader& r, const json& doc);
  void bpe(const std::string& word, std::vector<int32_t>& out) const;
  void bpe_uncached(const std::string& word, std::vector<int32_t>& out) const;
};

void Tokenizer::Impl::load_model(const Reader& r, const json& model) {
  if (!model.is_object()) r.fail("model", "expected an object, got " + std::string(model.type_name()));
  // Old files have no "type"; Hugging Face then recognises BPE by its merges.
  const std::string type =
      model.contains("type") ? r.string(model, "type", "model") : (model.contains("merges") ? "BPE" : "");
  if (type.empty()) r.fail("model.type", "missing, and without merges the model is not recognisably BPE");
  if (type != "BPE") r.fail("model.type", "unsupported model type \"" + type + "\" (only BPE is implemented)");
  if (const json* d = r.optional(model, "dropout"); d && !(d->is_number() && d->get<double>() == 0.0))
    r.fail("model.dropout", "BPE dropout is not supported (encoding here is deterministic)");

  const json& vocab_json = r.member(model, "vocab", "model");
  if (!vocab_json.is_object()) r.fail("model.vocab", "expected an object of token: id");
  vocab.reserve(vocab_json.size());
  int32_t max_id = -1;
  for (const auto& [token, idv] : vocab_json.items()) {
    const int64_t id = r.integer(idv, "model.vocab[\"" + token + "\"]");
    if (id < 0 || id >= kMaxTokenId)
      r.fail("model.vocab[\"" + token + "\"]",
             "id " + std::to_string(id) + " is outside [0, " + std::to_string(kMaxTokenId) + ")");
    vocab.emplace(token, static_cast<int32_t>(id));
    max_id = std::max(max_id, static_cast<int32_t>(id));
  }
  id_to_token.assign(max_id + 1, {});
  id_valid.assign(max_id + 1, 0);
  for (const auto& [token, id] : vocab) {
    id_to_token[id] = token;
    id_valid[id] = 1;
  }

  continuing_subword_prefix = r.string_or(model, "continuing_subword_prefix", "model", "");
  end_of_word_suffix = r.string_or(model, "end_of_word_suffix", "model", "");
  fuse_unk = r.boolean_or(model, "fuse_unk", "model", false);
  byte_fallback = r.boolean_or(model, "byte_fallback", "model", false);
  ignore_merges = r.boolean_or(model, "ignore_merges", "model", false);
  if (const json* unk = r.optional(model, "unk_token")) {
    if (!unk->is_string()) r.fail("model.unk_token", "expected a string");
    auto it = vocab.find(unk->get<std::string>());
    if (it == vocab.end()) r.fail("model.unk_token", "\"" + unk->get<std::string>() + "\" is not in model.vocab");
    unk_id = it->second;
  }
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    auto it = vocab.find(name);
    byte_token[b] = it == vocab.end() ? -1 : it->second;
  }

  static const json no_merges = json::array();  // Hugging Face accepts a BPE model without merges
  const json& merges_json = r.optional(model, "merges") ? r.array(model, "merges", "model") : no_merges;
  merges.reserve(merges_json.size() * 2);
  for (size_t rank = 0; rank < merges_json.size(); ++rank) {
    const json& m = merges_json[rank];
    const std::string path = "model.merges[" + std::to_string(rank) + "]";
    std::string left, right;
    if (m.is_string()) {  // "left right"
      const std::string& s = m.get_ref<const std::string&>();
      const size_t space = s.find(' ');
      if (space == std::string::npos || s.find(' ', space + 1) != std::string::npos)
        r.fail(path, "expected \"left right\" with exactly one space, got \"" + s + "\"");
      left = s.substr(0, space);
      right = s.substr(space + 1);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {  // ["left", "right"]
      left = m[0].get<std::string>();
      right = m[1].get<std::string>();
    } else {
      r.fail(path, "expected \"left right\" or [\"left\", \"right\"]");
    }
    auto l = vocab.find(left), rr = vocab.find(right);
    if (l == vocab.end()) r.fail(path, "token \"" + left + "\" is not in model.vocab");
    if (rr == vocab.end()) r.fail(path, "token \"" + right + "\" is not in model.vocab");
    std::string merged = left;
    if (!continuing_subword_prefix.empty() &&
        right.compare(0, continuing_subword_prefix.size(), continuing_subword_prefix) == 0) {
      merged += right.substr(continuing_subword_prefix.size());
    } else {
      merged += right;
    }
    auto n = vocab.find(merged);
    if (n == vocab.end()) r.fail(path, "merged token \"" + merged + "\" is not in model.vocab");
    merges.emplace(pair_key(l->second, rr->second), Merge{static_cast<int32_t>(rank), n->second});  // first rank wins
  }
}

void Tokenizer::Impl::load_added_tokens(const Reader& r, const json& doc) {
  const json* list = r.optional(doc, "added_tokens");
  if (!list) return;
  if (!list->is_array()) r.fail("added_tokens", "expected an array");
  for (size_t i = 0; i < list->size(); ++i) {
    const json& t = (*list)[i];
    const std::string path = "added_tokens[" + std::to_string(i) + "]";
    auto tok = std::make_unique<AddedToken>();
    tok->content = r.string(t, "content", path);
    if (tok->content.empty()) r.fail(path + ".content", "is empty");
    const int64_t id = r.integer(r.member(t, "id", path), path + ".id");
    if (id < 0 || id >= kMaxTokenId)
      r.fail(path + ".id", "id " + std::to_string(id) + " is outside [0, " + std::to_string(kMaxTokenId) + ")");
    tok->id = static_cast<int32_t>(id);
    tok->special = r.boolean_or(t, "special", path, false);
    tok->lstrip = r.boolean_or(t, "lstrip", path, false);
    tok->rstrip = r.boolean_or(t, "rstrip", path, false);
    tok->single_word = r.boolean_or(t, "single_word", path, false);
    tok->normalized = r.boolean_or(t, "normalized", path, !tok->special);
    if (static_cast<size_t>(tok->id) >= id_to_token.size()) {
      id_to_token.resize(tok->id + 1);
      id_valid.resize(tok->id + 1, 0);
    }
    id_to_token[tok->id] = tok->content;
    id_valid[tok->id] = 1;
    added_ids[tok->content] = tok->id;
    added.push_back(std::move(tok));
  }
  id_special.assign(id_to_token.size(), 0);
  for (const auto& t : added) {
    if (t->special) id_special[t->id] = 1;
    if (t->normalized) {
      // Matched in normalized text, so match its normalized form.
      if (normalizer) normalizer->normalize(t->content);
      normalized_matcher.add(t.get());
    } else {
      raw_matcher.add(t.get());
    }
  }
  raw_matcher.finish();
  normalized_matcher.finish();
}

void Tokenizer::Impl::bpe(const std::string& word, std::vector<int32_t>& out) const {
  if (ignore_merges) {
    if (auto it = vocab.find(word); it != vocab.end()) {
      out.push_back(it->second);
      return;
    }
  }
  if (word.size() > kCacheMaxWordBytes) {
    bpe_uncached(word, out);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(cache_mutex);
    if (auto it = cache.find(word); it != cache.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> ids;
  bpe_uncached(word, ids);
  out.insert(out.end(), ids.begin(), ids.end());
  std::lock_guard<std::mutex> lock(cache_mutex);
  if (cache.size() >= kCacheMaxEntries) cache.clear();
  cache.emplace(word, std::move(ids));
}

// One word: characters (with byte fallback or unk) as symbols, then merges by rank, lowest first and leftmost
// among equals, until no adjacent pair has a merge.
void Tokenizer::Impl::bpe_uncached(const std::string& word, std::vector<int32_t>& out) const {
  struct Symbol {
    int32_t id;
    int prev, next;
    bool alive;
  };
  std::vector<Symbol> sym;
  sym.reserve(word.size());
  bool last_was_unk = false;
  std::string key;
  for (size_t pos = 0; pos < word.size();) {
    const size_t len = std::min<size_t>(text::utf8_length(static_cast<unsigned char>(word[pos])), word.size() - pos);
    key.clear();
    if (pos > 0) key += continuing_subword_prefix;
    key.append(word, pos, len);
    if (pos + len == word.size()) key += end_of_word_suffix;
    pos += len;
    if (auto it = vocab.find(key); it != vocab.end()) {
      sym.push_back({it->second, 0, 0, true});
      last_was_unk = false;
      continue;
    }
    if (byte_fallback &&
        std::all_of(key.begin(), key.end(), [&](char c) { return byte_token[static_cast<unsigned char>(c)] >= 0; })) {
      for (unsigned char c : key) sym.push_back({byte_token[c], 0, 0, true});
      last_was_unk = false;
      continue;
    }
    if (unk_id) {
      if (!(fuse_unk && last_was_unk)) sym.push_back({*unk_id, 0, 0, true});
      last_was_unk = true;
    }
    // Without an unk token the character is dropped, as in Hugging Face.
  }
  const int n = static_cast<int>(sym.size());
  for (int i = 0; i < n; ++i) {
    sym[i].prev = i - 1;
    sym[i].next = i + 1 < n ? i + 1 : -1;
  }
  struct Candidate {
    int32_t rank;
    int pos;
    int32_t new_id;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> queue;
  auto consider = [&](int left) {
    if (left < 0 || sym[left].next < 0) return;
    auto it = merges.find(pair_key(sym[left].id, sym[sym[left].next].id));
    if (it != merges.end()) queue.push({it->second.rank, left, it->second.new_id});
  };
  for (int i = 0; i + 1 < n; ++i) consider(i);
  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    Symbol& left = sym[c.pos];
    if (!left.alive || left.next < 0) continue;
    auto it = merges.find(pair_key(left.id, sym[left.next].id));
    if (it == merges.end() || it->second.new_id != c.new_id) continue;  // stale: a neighbour has changed
    Symbol& right = sym[left.next];
    left.id = c.new_id;
    right.alive = false;
    left.next = right.next;
    if (right.next >= 0) sym[right.next].prev = c.pos;
    consider(left.prev);
    consider(c.pos);
  }
  for (int i = n > 0 ? 0 : -1; i >= 0; i = sym[i].next) out.push_back(sym[i].id);
}

// ---------------------------------------------------------------------------------------------------------

Tokenizer Tokenizer::load(const std::filesystem::path& tokenizer_json) {
  const std::string source = tokenizer_json.string();
  std::ifstream in(tokenizer_json, std::ios::binary);
  if (!in) throw ConfigError(source + ": cannot open the file");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw ConfigError(source + ": read error");
  return from_json(ss.str(), source);
}

Tokenizer Tokenizer::from_json(std::string_view json_text, const std::string& source) {
  const Reader r{source};
  json doc;
  try {
    doc = json::parse(json_text.begin(), json_text.end());
  } catch (const json::parse_error& e) {
    throw ConfigError(source + ": not valid JSON: " + e.what());
  }
  if (!doc.is_object()) r.fail("(top level)", "expected a JSON object, got " + std::string(doc.type_name()));

  auto impl = std::make_shared<Impl>();
  impl->source = source;
  impl->load_model(r, r.member(doc, "model", ""));
  if (const json* n = r.optional(doc, "normalizer")) impl->normalizer = make_normalizer(r, *n, "normalizer");
  if (const json* p = r.optional(doc, "pre_tokenizer"))
    impl->pre_tokenizer = make_pre_tokenizer(r, *p, "pre_tokenizer");
  if (const json* p = r.optional(doc, "post_processor"))
    impl->post_processor = make_post_processor(r, *p, "post_processor");
  if (const json* d = r.optional(doc, "decoder")) impl->decoder = make_decoder(r, *d, "decoder");
  impl->load_added_tokens(r, doc);
  if (impl->id_special.size() < impl->id_to_token.size()) impl->id_special.resize(impl->id_to_token.size(), 0);
  if (impl->post_processor) {  // the tokens a template adds must exist, or a model would index past its embedding
    std::vector<int32_t> added;
    impl->post_processor->process(added);
    for (int32_t id : added)
      if (id < 0 || static_cast<size_t>(id) >= impl->id_to_token.size() || !impl->id_valid[id])
        r.fail("post_processor", "adds token id " + std::to_string(id) + ", which is not in the vocabulary");
  }
  return Tokenizer(std::move(impl));
}

std::vector<int32_t> Tokenizer::encode(std::string_view input, bool add_special_tokens) const {
  const Impl& m = *impl_;
  if (!text::is_valid_utf8(input)) throw std::invalid_argument("Tokenizer::encode: the text is not valid UTF-8");
  std::vector<int32_t> ids;
  std::vector<Piece> pieces;
  for (const Segment& raw : m.raw_matcher.split(input)) {
    if (raw.id >= 0) {
      ids.push_back(raw.id);
      continue;
    }
    std::string normalized(raw.text);
    if (m.normalizer) m.normalizer->normalize(normalized);
    for (const Segment& seg : m.normalized_matcher.split(normalized)) {
      if (seg.id >= 0) {
        ids.push_back(seg.id);
        continue;
      }
      pieces.assign(1, Piece{std::string(seg.text), raw.offset == 0 && seg.offset == 0});
      if (m.pre_tokenizer) m.pre_tokenizer->pre_tokenize(pieces);
      for (const Piece& p : pieces) m.bpe(p.text, ids);
    }
  }
  if (add_special_tokens && m.post_processor) m.post_processor->process(ids);
  return ids;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const {
  const Impl& m = *impl_;
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) {
    if (id < 0 || static_cast<size_t>(id) >= m.id_to_token.size() || !m.id_valid[id]) continue;
    if (skip_special_tokens && m.id_special[id]) continue;
    tokens.push_back(m.id_to_token[id]);
  }
  std::string out;
  if (m.decoder) {
    m.decoder->decode_chain(tokens);
    for (const auto& t : tokens) out += t;
  } else {
    for (size_t i = 0; i < tokens.size(); ++i) out += (i ? " " : "") + tokens[i];
  }
  return out;
}

std::optional<int32_t> Tokenizer::token_to_id(std::string_view token) const {
  const std::string key(token);
  if (auto it = impl_->added_ids.find(key); it != impl_->added_ids.end()) return it->second;
  if (auto it = impl_->vocab.find(key); it != impl_->vocab.end()) return it->second;
  return std::nullopt;
}

std::optional<std::string> Tokenizer::id_to_token(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= impl_->id_to_token.size() || !impl_->id_valid[id]) return std::nullopt;
  return impl_->id_to_token[id];
}

int32_t Tokenizer::vocab_size() const { return static_cast<int32_t>(impl_->id_to_token.size()); }

}  // namespace wafersim::models
