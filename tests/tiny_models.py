"""Tiny random models built on the fly, so code paths are tested without any download.

Their outputs are meaningless (random weights): tests use them for loading, batching, caching, training loops and
generation loops, never for quality.
"""

from __future__ import annotations

import json
from pathlib import Path

FIXTURE_TEXTS = [
    "Will it rain tomorrow in Nakuru?",
    "Mvua itanyesha lini?",
    "Bei ya mahindi sokoni ni ngapi leo?",
    "My cassava leaves have brown spots",
    "Is it going to rain in Kano tomorrow?",
    "Ṣé òjò máa rọ̀ lọ́la?",
    "क्या कल बारिश होगी?",
    "Wie hoch ist der Weizenpreis heute?",
    "ฝนจะตกพรุ่งนี้ไหม",
    "The maize price fell again",
    "Majani ya mihogo yana madoa",
    "Meine Kartoffeln haben braune Flecken",
    "टमाटर का भाव क्या है?",
] * 4


def build_tiny_encoder(folder: Path, texts: list[str] | None = None, *, seed: int = 0) -> Path:
    """A 2-layer BERT (hidden 32) with a WordPiece vocabulary of `texts` (words, then characters), loadable by
    SentenceTransformer."""
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    # a fixed vocabulary (the fixture's whole words, then single characters) rather than a trained one: the
    # WordPiece trainer breaks frequency ties in no fixed order, so two builds differed and so did the predictions
    # of models built on them
    words: set[str] = set()
    for text in texts or FIXTURE_TEXTS:
        normalised = tokenizer.normalizer.normalize_str(text)
        words.update(word for word, _ in tokenizer.pre_tokenizer.pre_tokenize_str(normalised))
    chars = sorted({ch for word in words for ch in word})
    vocab = [*special, *sorted(words), *chars, *(f"##{ch}" for ch in chars)]
    tokenizer.model = models.WordPiece(vocab={token: i for i, token in enumerate(vocab)}, unk_token="[UNK]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", tokenizer.token_to_id("[CLS]")), ("[SEP]", tokenizer.token_to_id("[SEP]"))],
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=64,
    )
    fast.save_pretrained(folder)
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=tokenizer.get_vocab_size(),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        pad_token_id=tokenizer.token_to_id("[PAD]"),
    )
    BertModel(config).save_pretrained(folder)
    (folder / "modules.json").write_text(
        json.dumps(
            [
                {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
                {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
            ]
        )
    )
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 64, "do_lower_case": False}))
    (folder / "1_Pooling").mkdir(exist_ok=True)
    (folder / "1_Pooling" / "config.json").write_text(
        json.dumps(
            {
                "word_embedding_dimension": 32,
                "pooling_mode_mean_tokens": True,
                "pooling_mode_cls_token": False,
                "pooling_mode_max_tokens": False,
            }
        )
    )
    (folder / "2_Normalize").mkdir(exist_ok=True)
    return folder


def build_tiny_causal_lm(folder: Path, texts: list[str] | None = None, *, seed: int = 0) -> Path:
    """A 2-layer GPT-2 (n_embd 32) with a byte-level BPE tokenizer trained on `texts`."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.train_from_iterator(
        texts or FIXTURE_TEXTS,
        trainers.BpeTrainer(
            vocab_size=500, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
        ),
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token="<|endoftext|>",
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
        model_max_length=128,
    )
    fast.save_pretrained(folder)
    torch.manual_seed(seed)
    eos = tokenizer.token_to_id("<|endoftext|>")
    config = GPT2Config(
        vocab_size=tokenizer.get_vocab_size(),
        n_positions=128,
        n_embd=32,
        n_layer=2,
        n_head=2,
        bos_token_id=eos,
        eos_token_id=eos,
        pad_token_id=eos,
    )
    GPT2LMHeadModel(config).save_pretrained(folder)
    return folder


def build_tiny_text_classifier(
    folder: Path, id2label: dict[int, str], texts: list[str] | None = None, *, seed: int = 0
) -> Path:
    """A 2-layer BertForSequenceClassification (hidden 32) with the given `id2label`, saved as a Hugging Face model
    folder (config.json, weights, tokenizer): the tiny encoder's fixed vocabulary, a random classification head."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    build_tiny_encoder(folder, texts, seed=seed)  # the tokenizer, and the encoder's size
    for extra in ("modules.json", "sentence_bert_config.json"):
        (folder / extra).unlink()
    for extra in ("1_Pooling/config.json",):
        (folder / extra).unlink()
    (folder / "1_Pooling").rmdir()
    (folder / "2_Normalize").rmdir()
    encoder = BertConfig.from_pretrained(folder)
    torch.manual_seed(seed)
    config = BertConfig(
        **{
            key: getattr(encoder, key)
            for key in (
                "vocab_size",
                "hidden_size",
                "num_hidden_layers",
                "num_attention_heads",
                "intermediate_size",
                "max_position_embeddings",
                "pad_token_id",
            )
        },
        id2label={int(i): label for i, label in id2label.items()},
        label2id={label: int(i) for i, label in id2label.items()},
    )
    BertForSequenceClassification(config).save_pretrained(folder)
    return folder
