"""A local transformers causal LM (hub id or folder): chat template when the tokenizer has one, GPU when present.

Requests that arrive together (the engine sends several at once) are generated as one left-padded batch: one
forward pass per token for the whole batch instead of one per request. A batch holds requests with the same
sampling settings and is sampled with its first request's seed.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass

from core.generation.llm_backend import BackendError, ChatAnswer, ChatRequest, StreamWatch
from core.models.resolver import resolve_model

MAX_BATCH = 8
GATHER_SECONDS = 0.02  # how long the first request of a batch waits for others


@dataclass
class _Waiting:
    request: ChatRequest
    future: asyncio.Future[ChatAnswer]


class LocalBackend:
    name = "local"
    recorded = False

    def __init__(self, model: str, *, max_batch: int = MAX_BATCH) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        folder = resolve_model(model)
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.tokenizer.padding_side = "left"  # generation continues at the right end of every row
        self.tokenizer.truncation_side = "left"  # a prompt's end matters most: cut its start
        loaded = AutoModelForCausalLM.from_pretrained(folder)
        # `to` is a functools.wraps wrapper that the type stubs do not bind to the instance: pass it explicitly.
        self.model = type(loaded).to(loaded, self.device).eval()
        self.model_name = model
        self.max_batch = max(1, max_batch)
        self.batch_sizes: list[int] = []  # what was generated together (for tests and benchmarks)
        self._lock = threading.Lock()  # one generation at a time on this device
        self._waiting: list[_Waiting] = []
        self._batcher: asyncio.Task[None] | None = None

    def _prompt(self, request: ChatRequest) -> str:
        if getattr(self.tokenizer, "chat_template", None):
            return str(self.tokenizer.apply_chat_template(request.messages, tokenize=False, add_generation_prompt=True))
        return "\n\n".join(m["content"] for m in request.messages) + "\n\n"

    def _limits(self, max_tokens: int) -> tuple[int, int]:
        config = self.model.config
        limit = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None) or 4096
        return limit, max(1, limit - min(max_tokens, limit // 2))

    def _generate_batch(self, requests: list[ChatRequest]) -> list[ChatAnswer]:
        import torch

        first = requests[0]
        limit, keep = self._limits(first.max_tokens)
        inputs = self.tokenizer(
            [self._prompt(r) for r in requests], return_tensors="pt", padding=True, truncation=True, max_length=keep
        )
        inputs = {k: v.to(self.device) for k, v in inputs.items()}
        width = inputs["input_ids"].shape[1]
        room = max(1, min(first.max_tokens, limit - width))
        with self._lock, torch.no_grad():
            if first.seed is not None:
                torch.manual_seed(first.seed)
            output = self.model.generate(
                **inputs,
                max_new_tokens=room,
                do_sample=first.temperature > 0,
                temperature=max(first.temperature, 1e-3),
                top_p=first.top_p,
                pad_token_id=self.tokenizer.pad_token_id,
            )
        self.batch_sizes.append(len(requests))
        answers = []
        eos = self.tokenizer.eos_token_id
        for row, _request in enumerate(requests):
            new_tokens = output[row][width:].tolist()
            finished = eos in new_tokens
            if finished:
                new_tokens = new_tokens[: new_tokens.index(eos)]
            answers.append(
                ChatAnswer(
                    text=str(self.tokenizer.decode(new_tokens, skip_special_tokens=True)),
                    prompt_tokens=int(inputs["attention_mask"][row].sum()),
                    completion_tokens=len(new_tokens),
                    finish_reason="stop" if finished else "length",
                    model=self.model_name,
                    raw={"local": True},
                )
            )
        return answers

    async def complete(self, request: ChatRequest, watch: StreamWatch | None = None) -> ChatAnswer:
        """The whole answer at once (`watch` is not used: nothing streams)."""
        future: asyncio.Future[ChatAnswer] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(request, future))
        if self._batcher is None or self._batcher.done():
            self._batcher = asyncio.create_task(self._run_batches())
        return await future

    async def _run_batches(self) -> None:
        await asyncio.sleep(GATHER_SECONDS)
        while self._waiting:
            head = self._waiting[0].request
            same = [
                w
                for w in self._waiting
                if (w.request.temperature, w.request.top_p, w.request.max_tokens)
                == (head.temperature, head.top_p, head.max_tokens)
            ][: self.max_batch]
            for waiting in same:
                self._waiting.remove(waiting)
            live = [w for w in same if not w.future.done()]  # a cancelled request needs no answer
            if not live:
                continue
            try:
                answers = await asyncio.to_thread(self._generate_batch, [w.request for w in live])
            except (RuntimeError, ValueError) as exc:
                error = BackendError(f"The local model failed to generate: {exc}", kind="server", retryable=False)
                for waiting in live:
                    if not waiting.future.done():
                        waiting.future.set_exception(error)
                continue
            for waiting, answer in zip(live, answers, strict=True):
                if not waiting.future.done():
                    waiting.future.set_result(answer)
