"""How text reads: Unicode forms, languages, content words, sentences, table rows."""
