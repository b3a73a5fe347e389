"""Long work as jobs: a row in the store plus a worker process that reports progress and obeys cancel."""
