// A small, deterministic LLaMA-3-style tokenizer.json for generated test checkpoints: byte-level BPE with the
// LLaMA-3 pre-tokenizer, merges learned by a plain BPE trainer over a built-in English + code text.
// Not a real LLaMA vocabulary: IDs mean nothing outside models made by `wafersim make-model`.
#pragma once
#include <string>

namespace wafersim::models {

// Returns the text of a Hugging Face tokenizer.json with exactly `vocab_size` tokens:
//   ids 0..255                the 256 bytes (ByteLevel alphabet, in byte order);
//   ids 256..                 one token per learned merge, in merge (rank) order;
//   then                      `<|reserved_special_token_N|>` fillers if the built-in text yields fewer merges;
//   vocab_size-2, vocab_size-1 `<|begin_of_text|>`, `<|end_of_text|>` (special; the post-processor adds BOS).
// Same vocab_size, same bytes. Throws std::invalid_argument if vocab_size < 258 (bytes + 2 special tokens).
std::string build_small_tokenizer_json(int vocab_size);

}  // namespace wafersim::models
