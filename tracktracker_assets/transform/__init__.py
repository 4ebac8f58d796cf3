"""dbt: where the project lives and how it reaches the warehouse."""
