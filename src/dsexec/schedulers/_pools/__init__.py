"""Thread pools: ``ThreadPool`` runs blocking work off the loop."""
