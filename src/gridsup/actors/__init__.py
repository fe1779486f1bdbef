"""The actor kinds, one package each: `grid` (the strategy actor), `execution`,
`market_data`, `persistence`; and `run_config`, the run record every kind is handed.
Kinds never import each other: they talk only through messages."""
