"""A local transformers causal LM (hub id or folder): chat template when the tokenizer has one, GPU when present."""

from __future__ import annotations

import asyncio
import threading

from core.generation.llm_backend import BackendError, ChatAnswer, ChatRequest
from core.models.resolver import resolve_model


class LocalBackend:
    name = "local"
    recorded = False

    def __init__(self, model: str) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        folder = resolve_model(model)
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = AutoModelForCausalLM.from_pretrained(folder).to(self.device).eval()
        self.model_name = model
        self._lock = threading.Lock()  # one generation at a time on this device

    def _prompt(self, request: ChatRequest) -> str:
        if getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(request.messages, tokenize=False, add_generation_prompt=True)
        return "\n\n".join(m["content"] for m in request.messages) + "\n\n"

    def _generate(self, request: ChatRequest) -> ChatAnswer:
        import torch

        prompt = self._prompt(request)
        config = self.model.config
        limit = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None) or 4096
        keep = max(1, limit - min(request.max_tokens, limit // 2))  # the prompt's end matters most: cut its start
        self.tokenizer.truncation_side = "left"
        inputs = self.tokenizer(prompt, return_tensors="pt", truncation=True, max_length=keep)
        inputs = {k: v.to(self.device) for k, v in inputs.items()}
        room = max(1, min(request.max_tokens, limit - inputs["input_ids"].shape[1]))
        with self._lock, torch.no_grad():
            if request.seed is not None:
                torch.manual_seed(request.seed)
            output = self.model.generate(
                **inputs,
                max_new_tokens=room,
                do_sample=request.temperature > 0,
                temperature=max(request.temperature, 1e-3),
                top_p=request.top_p,
                pad_token_id=self.tokenizer.pad_token_id,
            )
        new_tokens = output[0][inputs["input_ids"].shape[1] :]
        text = self.tokenizer.decode(new_tokens, skip_special_tokens=True)
        finish = "length" if len(new_tokens) >= room else "stop"
        return ChatAnswer(
            text=text,
            prompt_tokens=int(inputs["input_ids"].shape[1]),
            completion_tokens=len(new_tokens),
            finish_reason=finish,
            model=self.model_name,
            raw={"local": True},
        )

    async def complete(self, request: ChatRequest) -> ChatAnswer:
        try:
            return await asyncio.to_thread(self._generate, request)
        except (RuntimeError, ValueError) as exc:
            raise BackendError(f"The local model failed to generate: {exc}", kind="server", retryable=False) from None
