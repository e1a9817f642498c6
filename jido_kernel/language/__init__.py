"""Lua as a notebook language: which text is Lua, completion, inspection and is_complete."""
