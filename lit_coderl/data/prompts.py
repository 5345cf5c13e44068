"""Turning a task row into the text the model is prompted with."""

from __future__ import annotations

from typing import Any


def render_prompt(task: dict[str, Any], tokenizer) -> str:
    """The prompt text of a task row.

    Chat rows (``messages``) go through the tokenizer's chat template with the generation prompt appended; without a
    template the turns are joined as plain text. Completion rows (``prompt``) are used as they are.
    """
    if task.get("messages"):
        messages = task["messages"]
        if getattr(tokenizer, "chat_template", None):
            return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant: "
    if task.get("prompt") is not None:
        return str(task["prompt"])
    raise ValueError(f"task {task.get('task_id', '?')!r} has neither 'messages' nor 'prompt'")
