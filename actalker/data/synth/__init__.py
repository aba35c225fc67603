"""The synthetic world of talking faces (see docs/data.md): signals, identities, renderer,
landmarks in MediaPipe's layout, and the generator that writes clip folders."""
