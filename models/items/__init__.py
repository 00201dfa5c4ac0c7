"""The DynamoDB item-store model: typed attribute values, expressions, operations and
transactions, with DynamoDB's semantics."""
