#include "models/tokenizer_text.hpp"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/unistr.h>

#include <memory>
#include <stdexcept>

namespace wafersim::models::text {

int utf8_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 1;
}

namespace {

// Length of the longest prefix of s[pos..] that is a valid UTF-8 sequence or the start of one (its "maximal
// subpart"), and whether that prefix is a complete character.
std::pair<size_t, bool> scan_utf8(std::string_view s, size_t pos) {
  const unsigned char lead = static_cast<unsigned char>(s[pos]);
  if (lead < 0x80) return {1, true};
  int need;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the first continuation byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    need = 1;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    need = 2;
    if (lead == 0xE0) lo = 0xA0;  // no overlongs
    if (lead == 0xED) hi = 0x9F;  // no surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    need = 3;
    if (lead == 0xF0) lo = 0x90;
    if (lead == 0xF4) hi = 0x8F;  // <= U+10FFFF
  } else {
    return {1, false};
  }
  size_t len = 1;
  for (int k = 0; k < need; ++k) {
    if (pos + len >= s.size()) return {len, false};
    const unsigned char c = static_cast<unsigned char>(s[pos + len]);
    const unsigned char l = k == 0 ? lo : 0x80, h = k == 0 ? hi : 0xBF;
    if (c < l || c > h) return {len, false};
    ++len;
  }
  return {len, true};
}

}  // namespace

bool is_valid_utf8(std::string_view s) {
  for (size_t pos = 0; pos < s.size();) {
    auto [len, ok] = scan_utf8(s, pos);
    if (!ok) return false;
    pos += len;
  }
  return true;
}

char32_t next_code_point(std::string_view s, size_t& pos) {
  const unsigned char lead = static_cast<unsigned char>(s[pos]);
  const int len = utf8_length(lead);
  char32_t cp = len == 1 ? lead : len == 2 ? (lead & 0x1F) : len == 3 ? (lead & 0x0F) : (lead & 0x07);
  for (int k = 1; k < len && pos + k < s.size(); ++k)
    cp = (cp << 6) | (static_cast<unsigned char>(s[pos + k]) & 0x3F);
  pos += len;
  return cp;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string utf8_lossy(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (size_t pos = 0; pos < bytes.size();) {
    auto [len, ok] = scan_utf8(bytes, pos);
    if (ok) {
      out.append(bytes.substr(pos, len));
    } else {
      out.append("\xEF\xBF\xBD");  // U+FFFD
    }
    pos += len;
  }
  return out;
}

bool is_unicode_whitespace(char32_t cp) {
  if (cp <= 0x20) return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D);
  return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
         cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

std::string normalize_unicode(std::string_view s, NormalForm form) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* n = form == NormalForm::NFC    ? icu::Normalizer2::getNFCInstance(status)
                              : form == NormalForm::NFD  ? icu::Normalizer2::getNFDInstance(status)
                              : form == NormalForm::NFKC ? icu::Normalizer2::getNFKCInstance(status)
                                                         : icu::Normalizer2::getNFKDInstance(status);
  if (U_FAILURE(status)) throw std::runtime_error(std::string("ICU normalizer unavailable: ") + u_errorName(status));
  const icu::UnicodeString in =
      icu::UnicodeString::fromUTF8(icu::StringPiece(s.data(), static_cast<int32_t>(s.size())));
  if (n->isNormalized(in, status) && U_SUCCESS(status)) return std::string(s);
  status = U_ZERO_ERROR;
  const icu::UnicodeString out = n->normalize(in, status);
  if (U_FAILURE(status)) throw std::runtime_error(std::string("ICU normalization failed: ") + u_errorName(status));
  std::string result;
  out.toUTF8String(result);
  return result;
}

std::string lowercase_each(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t pos = 0; pos < s.size();) {
    const unsigned char lead = static_cast<unsigned char>(s[pos]);
    if (lead < 0x80) {
      out.push_back(lead >= 'A' && lead <= 'Z' ? static_cast<char>(lead + 32) : static_cast<char>(lead));
      ++pos;
      continue;
    }
    const char32_t cp = next_code_point(s, pos);
    icu::UnicodeString one(static_cast<UChar32>(cp));
    one.toLower(icu::Locale::getRoot());  // full mapping; a lone character has no casing context
    one.toUTF8String(out);
  }
  return out;
}

const ByteLevelAlphabet& ByteLevelAlphabet::get() {
  static const ByteLevelAlphabet table = [] {
    ByteLevelAlphabet t;
    t.char_to_byte.fill(-1);
    auto printable = [](int b) {
      return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    };
    int next = 256;
    for (int b = 0; b < 256; ++b) {
      const int cp = printable(b) ? b : next++;
      append_utf8(t.byte_to_text[b], static_cast<char32_t>(cp));
      t.char_to_byte[cp] = static_cast<int16_t>(b);
    }
    return t;
  }();
  return table;
}

std::string ByteLevelAlphabet::encode(std::string_view bytes) const {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) out += byte_to_text[b];
  return out;
}

bool ByteLevelAlphabet::decode(std::string_view text, std::string& out) const {
  for (size_t pos = 0; pos < text.size();) {
    const char32_t cp = next_code_point(text, pos);
    if (cp >= char_to_byte.size() || char_to_byte[cp] < 0) return false;
    out.push_back(static_cast<char>(char_to_byte[cp]));
  }
  return true;
}

std::string oniguruma_to_pcre2(const std::string& pattern) {
  // Oniguruma's Unicode classes, spelled out for PCRE2 (whose UCP \s adds U+180E, whose \w lacks marks and
  // connector punctuation, and whose \h is horizontal space rather than a hex digit).
  static constexpr const char* kSpace = "\\t\\n\\x0B\\f\\r\\x{85}\\p{Z}";
  static constexpr const char* kWord = "\\p{L}\\p{M}\\p{N}\\p{Pc}";
  static constexpr const char* kHex = "0-9a-fA-F";
  std::string out;
  out.reserve(pattern.size() + 32);
  int class_depth = 0;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      const char e = pattern[++i];
      const char* set = e == 's' || e == 'S'   ? kSpace
                        : e == 'w' || e == 'W' ? kWord
                        : e == 'h' || e == 'H' ? kHex
                                               : nullptr;
      const bool negated = e == 'S' || e == 'W' || e == 'H';
      if (set && class_depth == 0) {
        out += negated ? "[^" : "[";
        out += set;
        out += "]";
      } else if (set && !negated) {
        out += set;  // inside a class: add the members
      } else {
        out += c;  // other escapes, and negated classes inside a class, keep PCRE2's meaning
        out += e;
      }
      continue;
    }
    if (c == '[') {
      if (class_depth > 0 && i + 1 < pattern.size() && pattern[i + 1] == ':') {  // POSIX [:name:]
        const size_t end = pattern.find(":]", i + 2);
        if (end != std::string::npos) {
          out.append(pattern, i, end + 2 - i);
          i = end + 1;
          continue;
        }
      }
      ++class_depth;
      out += c;
      if (class_depth == 1) {  // a ']' right after '[' or '[^' is a literal
        if (i + 1 < pattern.size() && pattern[i + 1] == '^') out += pattern[++i];
        if (i + 1 < pattern.size() && pattern[i + 1] == ']') out += pattern[++i];
      }
      continue;
    }
    if (c == ']' && class_depth > 0) --class_depth;
    out += c;
  }
  return out;
}

Regex::Regex(const std::string& pattern) : pattern_(pattern) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  const std::string translated = oniguruma_to_pcre2(pattern);
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(translated.data()), translated.size(),
                                   PCRE2_UTF | PCRE2_UCP, &error, &offset, nullptr);
  if (!code) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof message);
    throw std::invalid_argument("regex /" + pattern + "/ does not compile at offset " + std::to_string(offset) +
                                ": " + reinterpret_cast<const char*>(message));
  }
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // best effort: the interpreter gives the same matches
  code_ = code;
}

Regex::~Regex() { pcre2_code_free(static_cast<pcre2_code*>(code_)); }

std::vector<std::pair<size_t, size_t>> Regex::find_all(std::string_view subject) const {
  auto* code = static_cast<pcre2_code*>(code_);
  std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> md(
      pcre2_match_data_create_from_pattern(code, nullptr), &pcre2_match_data_free);
  std::vector<std::pair<size_t, size_t>> out;
  const auto* subj = reinterpret_cast<PCRE2_SPTR>(subject.data());
  size_t start = 0;
  while (start <= subject.size()) {
    // Callers pass valid UTF-8 (checked once per encode), so PCRE2 need not check it again per match.
    int rc = pcre2_match(code, subj, subject.size(), start, PCRE2_NO_UTF_CHECK, md.get(), nullptr);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
      rc = pcre2_match(code, subj, subject.size(), start, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, md.get(), nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(rc, message, sizeof message);
      throw std::runtime_error("regex /" + pattern_ +
                               "/: matching failed: " + reinterpret_cast<const char*>(message));
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md.get());
    const size_t b = ov[0], e = ov[1];
    if (e > b) {
      out.emplace_back(b, e);
      start = e;
    } else {
      if (b >= subject.size()) break;
      start = b + utf8_length(static_cast<unsigned char>(subject[b]));  // step over one character
    }
  }
  return out;
}

}  // namespace wafersim::models::text
