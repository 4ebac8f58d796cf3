"""The PostgreSQL warehouse: connections and the bronze schema that Python writes."""
