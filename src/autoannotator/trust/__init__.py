"""Trust, measured: the audit draw and acceptance tests (`acceptance`), the references a run is judged against
(the reviewer; people's labels: `truth`, `people`; a label model over all sources: `labelmodel`), the evidence
kept in the ledger (`evidence`), and the router that decides each batch's rows on it (`routing`)."""
