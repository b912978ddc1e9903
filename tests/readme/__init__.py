"""The README's examples, run as written from a fresh folder."""
