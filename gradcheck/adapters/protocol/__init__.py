"""Programs in any language as candidates: the line protocol of docs/PROTOCOL.md, its text and its runs."""
