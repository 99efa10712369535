// edgekit's JavaScript tokenizer: tokenizer.json (docs/text.md) in, the ids the Keras layer produces out.
//
// One file for every place it runs: the web bundle's page (a classic <script>: window.EdgekitTokenizer),
// the validation page in Chromium, and Node (CommonJS require; edgekit/js/tokenize.js). No dependencies.
//
//   const tok = EdgekitTokenizer.fromSpec(specObject);   // throws on a spec this file cannot run exactly
//   tok.tokens("The cat!")   -> ["the", "cat"]           // before the vocabulary lookup
//   tok.encode("The cat!")   -> [2, 3, 0, 0, ...]         // one sample: the test vectors' row
//   tok.encodeBatch([...])   -> rows; int output with output_sequence_length null pads to the longest row
//
// Exactly Keras/TensorFlow, not "what JavaScript would do": lowercasing maps A-Z only (tf.strings.lower has
// no encoding: "ÉCOLE" -> "École"), whitespace is the six ASCII characters (U+00A0, U+3000 are not
// separators), characters are code points (not UTF-16 units), tokens are compared without normalization.
(function (root, factory) {
  if (typeof module === 'object' && module.exports) {
    module.exports = factory();
  } else {
    root.EdgekitTokenizer = factory();
  }
}(typeof self !== 'undefined' ? self : this, function () {
  'use strict';

  const FORMAT = 'edgekit-tokenizer';
  const VERSION = 1;
  const KINDS = ['text_vectorization', 'string_lookup', 'integer_lookup'];
  const MODES = ['int', 'multi_hot', 'count', 'one_hot'];
  const STANDARDIZE = [null, 'lower', 'strip_punctuation', 'lower_and_strip_punctuation'];
  const SPLITS = [null, 'whitespace', 'character'];
  const ASCII_WHITESPACE = /[ \t\n\v\f\r]+/;
  const ASCII_CAPITALS = /[A-Z]+/g;
  const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?:^|[^\uD800-\uDBFF])[\uDC00-\uDFFF]/;

  class TokenizerError extends Error {}

  function need(ok, message) {
    if (!ok) throw new TokenizerError(`tokenizer.json: ${message}`);
  }

  function checkSpec(spec) {
    need(spec && typeof spec === 'object', 'not a JSON object');
    need(spec.format === FORMAT, `format ${JSON.stringify(spec.format)} is not "${FORMAT}"`);
    need(spec.version === VERSION, `version ${JSON.stringify(spec.version)} is not one this tokenizer reads (${VERSION})`);
    need(KINDS.includes(spec.kind), `kind ${JSON.stringify(spec.kind)} is not implemented here (${KINDS.join(', ')})`);
    need(MODES.includes(spec.output_mode), `output_mode ${JSON.stringify(spec.output_mode)} is not one of ${MODES.join(', ')}`);
    need(STANDARDIZE.includes(spec.standardize ?? null), `standardize ${JSON.stringify(spec.standardize)} is unknown`);
    need(SPLITS.includes(spec.split ?? null), `split ${JSON.stringify(spec.split)} is unknown`);
    need((spec.lowercase ?? 'ascii') === 'ascii', `lowercase ${JSON.stringify(spec.lowercase)} is not "ascii"`);
    need((spec.num_oov_indices ?? 1) === 1, 'num_oov_indices other than 1 is not supported');
    need(Array.isArray(spec.vocabulary), 'vocabulary is not a list');
    need(Number.isInteger(spec.oov_id) && spec.vocabulary[spec.oov_id] === spec.oov_token,
      `vocabulary[oov_id=${spec.oov_id}] is not the oov_token`);
    need(spec.ngrams == null || (Array.isArray(spec.ngrams) && spec.ngrams.length > 0 &&
      spec.ngrams.every((n) => Number.isInteger(n) && n >= 1)), 'ngrams is null or a list of sizes >= 1');
    if (spec.output_mode !== 'int') {
      const dims = (spec.output && spec.output.shape) || [];
      need(Number.isInteger(dims[dims.length - 1]), `output_mode ${spec.output_mode} needs a fixed output length`);
    }
  }

  function checkText(text) {
    if (typeof text !== 'string') {
      throw new TokenizerError(`the tokenizer takes strings, received ${typeof text} ${JSON.stringify(text)}`);
    }
    const bad = typeof text.isWellFormed === 'function' ? !text.isWellFormed() : LONE_SURROGATE.test(text);
    if (bad) throw new TokenizerError('the input holds a lone surrogate, which is not text; give valid Unicode');
    return text;
  }

  class Tokenizer {
    constructor(spec) {
      checkSpec(spec);
      this.spec = spec;
      this.index = new Map(spec.vocabulary.map((token, i) => [token, i]));
      this.punctuation = spec.standardize && spec.standardize.includes('strip_punctuation')
        ? new RegExp(spec.strip_punctuation_regex, 'g') : null;  // an ASCII class: no 'u' flag needed
      this.lower = spec.standardize === 'lower' || spec.standardize === 'lower_and_strip_punctuation';
      const dims = (spec.output && spec.output.shape) || [];
      this.depth = spec.output_mode === 'int' ? null : dims[dims.length - 1];
    }

    standardize(text) {
      let s = text;
      if (this.lower) s = s.replace(ASCII_CAPITALS, (m) => m.toLowerCase());
      if (this.punctuation) s = s.replace(this.punctuation, '');
      return s;
    }

    split(text) {
      if (this.spec.split === 'whitespace') return text.split(ASCII_WHITESPACE).filter((t) => t.length > 0);
      if (this.spec.split === 'character') return Array.from(text);  // code points
      return [text];
    }

    ngrams(tokens) {
      const widths = this.spec.ngrams;
      if (widths == null) return tokens;
      const sep = this.spec.ngram_separator ?? ' ';
      const out = [];
      for (const n of widths) {
        for (let i = 0; i + n <= tokens.length; i++) out.push(tokens.slice(i, i + n).join(sep));
      }
      return out;
    }

    /** The tokens of one sample before the lookup. */
    tokens(input) {
      if (this.spec.kind === 'integer_lookup') {
        if (!Number.isInteger(input)) throw new TokenizerError(`the tokenizer takes integers, received ${JSON.stringify(input)}`);
        return [input];
      }
      const text = checkText(input);
      if (this.spec.kind === 'string_lookup') return [text];
      return this.ngrams(this.split(this.standardize(text)));
    }

    lookup(token) {
      const id = this.index.get(token);
      return id === undefined ? this.spec.oov_id : id;
    }

    /** One sample's output: int ids (padded/cut to output_sequence_length) or a float vector. */
    encode(input) {
      const spec = this.spec;
      const toks = this.tokens(input);
      if (spec.output_mode !== 'int') {
        const row = new Array(this.depth).fill(0);
        for (const t of toks) {
          if (spec.mask_token != null && t === spec.mask_token) continue;  // Keras drops the mask token
          const id = this.lookup(t);
          if (id < this.depth) row[id] = spec.output_mode === 'count' ? row[id] + 1 : 1;
        }
        return row;
      }
      const ids = toks.map((t) => this.lookup(t));
      if (spec.split == null) return ids;  // one id per sample (the input's shape)
      const width = spec.output_sequence_length;
      if (width == null) return ids;
      const row = ids.slice(0, width);
      while (row.length < width) row.push(spec.padding_id ?? 0);
      return row;
    }

    /** A batch: with output_sequence_length null, int rows are padded to the longest one (as Keras does). */
    encodeBatch(inputs) {
      const rows = Array.from(inputs, (x) => this.encode(x));
      if (this.spec.output_mode === 'int' && this.spec.split != null && this.spec.output_sequence_length == null) {
        const width = rows.reduce((m, r) => Math.max(m, r.length), 0);
        for (const r of rows) while (r.length < width) r.push(this.spec.padding_id ?? 0);
      }
      return rows;
    }
  }

  return {
    FORMAT,
    VERSION,
    Tokenizer,
    TokenizerError,
    fromSpec: (spec) => new Tokenizer(spec),
  };
}));
