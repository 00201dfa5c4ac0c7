"""The reference replicated store: a deterministic simulation of Dynamo-style
(leaderless) and DynamoDB-style (leader per partition) clusters."""
