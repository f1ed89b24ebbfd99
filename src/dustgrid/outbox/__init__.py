"""The outbox queue (a foundation): domains enqueue jobs and register their handlers here;
``jobs`` (above every domain) claims and runs them. See docs/architecture.md, *Layers*."""
