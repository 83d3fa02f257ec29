// Text primitives under the tokenizer: UTF-8 stepping and lossy decoding, the GPT-2 byte<->unicode alphabet of
// the ByteLevel pre-tokenizer/decoder, Unicode White_Space, normalization forms and lowercasing (ICU), and a PCRE2
// (UTF + UCP) regex for split patterns. Regex tables are PCRE2 10.42's (Unicode 14; Oniguruma has Unicode 15).
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wafersim::models::text {

// Length in bytes of the UTF-8 sequence that starts with `lead` (1 for stray continuation/invalid bytes).
int utf8_length(unsigned char lead);

// True if `s` is well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF).
bool is_valid_utf8(std::string_view s);

// Decodes the code point at s[pos] (s must be valid UTF-8) and advances pos past it.
char32_t next_code_point(std::string_view s, size_t& pos);

// Appends the UTF-8 encoding of `cp`.
void append_utf8(std::string& out, char32_t cp);

// Bytes to text the way WHATWG/Rust lossy decoders do: each maximal ill-formed subpart becomes U+FFFD.
std::string utf8_lossy(std::string_view bytes);

// Unicode White_Space property (what Rust's char::is_whitespace tests).
bool is_unicode_whitespace(char32_t cp);

// Unicode normalization forms (ICU), for the NFC/NFD/NFKC/NFKD normalizers. `s` must be valid UTF-8.
enum class NormalForm { NFC, NFD, NFKC, NFKD };
std::string normalize_unicode(std::string_view s, NormalForm form);

// Full lowercase mapping of each code point on its own (Rust's char::to_lowercase, which Hugging Face's
// Lowercase normalizer applies; no context, so a final capital sigma becomes σ, not ς).
std::string lowercase_each(std::string_view s);

// GPT-2's reversible byte<->character table: printable Latin-1 bytes map to themselves, the other 68 bytes to
// U+0100.. in byte order.
struct ByteLevelAlphabet {
  std::array<std::string, 256> byte_to_text;  // UTF-8 of each byte's character
  std::array<int16_t, 324> char_to_byte;      // indexed by code point (all are < 324), -1 if none
  static const ByteLevelAlphabet& get();
  // Maps every byte of `bytes` to its character.
  std::string encode(std::string_view bytes) const;
  // Inverse of encode; returns false (leaving `out` partly written) if a character is not in the table.
  bool decode(std::string_view text, std::string& out) const;
};

// Rewrites the Oniguruma pattern of a tokenizer.json for PCRE2 so that the classes mean what Oniguruma's mean:
// \s -> [\t\n\v\f\r\x{85}\p{Z}], \w -> [\p{L}\p{M}\p{N}\p{Pc}], \h -> [0-9a-fA-F] (negated forms too,
// outside brackets). Everything else is passed through; the two dialects agree on what tokenizers use.
std::string oniguruma_to_pcre2(const std::string& pattern);

// A compiled PCRE2 pattern in UTF + UCP mode, translated from Oniguruma syntax (see above).
// Thread-safe: matching allocates its own match data.
class Regex {
 public:
  // Throws std::invalid_argument with PCRE2's message and the offset of the error.
  explicit Regex(const std::string& pattern);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;
  // Non-overlapping matches [begin, end) from left to right; empty matches are skipped.
  std::vector<std::pair<size_t, size_t>> find_all(std::string_view subject) const;
  const std::string& pattern() const { return pattern_; }

 private:
  std::string pattern_;
  void* code_ = nullptr;  // pcre2_code_8*
};

}  // namespace wafersim::models::text
