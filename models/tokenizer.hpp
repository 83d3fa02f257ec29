// Hugging Face `tokenizer.json` tokenizers with the semantics of the `tokenizers` library: BPE (byte-level as in
// LLaMA-3, or with byte fallback and the "▁" metaspace as in LLaMA-2), added/special tokens, normalizers,
// pre-tokenizers, post-processors and decoders. Not modelled: offsets, padding, truncation, sentence pairs,
// WordPiece/Unigram/WordLevel models. See docs/tokenizers.md.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wafersim::models {

class Tokenizer {
 public:
  // Reads a tokenizer.json. Throws wafersim::ConfigError "<file>: <field>: <what is wrong>" for unreadable or
  // malformed files and for components this implementation does not support (it never guesses).
  static Tokenizer load(const std::filesystem::path& tokenizer_json);
  // The same from the text of a tokenizer.json; `source` names it in errors.
  static Tokenizer from_json(std::string_view json_text, const std::string& source = "<tokenizer.json>");

  // Text (UTF-8; throws std::invalid_argument if it is not) to token IDs. Added tokens in the text are matched
  // first; with add_special_tokens the post-processor adds its template tokens (e.g. LLaMA-2's <s>).
  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens = true) const;
  // IDs to text through the decoder; IDs outside the vocabulary are skipped, as Hugging Face does.
  std::string decode(const std::vector<int32_t>& ids, bool skip_special_tokens = false) const;
  // Added tokens first, then the model's vocabulary.
  std::optional<int32_t> token_to_id(std::string_view token) const;
  // The token text of an ID (added tokens included); nullopt outside the vocabulary.
  std::optional<std::string> id_to_token(int32_t id) const;
  // One past the largest ID of the vocabulary and the added tokens (128256 for LLaMA-3, 32000 for LLaMA-2).
  int32_t vocab_size() const;

  struct Impl;

 private:
  explicit Tokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;  // immutable after loading, except for its internally locked BPE cache
};

}  // namespace wafersim::models
