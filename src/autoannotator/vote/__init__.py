"""The specialists' votes on texts (`inference`) and how votes are combined: single labels (`aggregate`: rules,
weighted votes, Dawid-Skene) and label sets (`labelsets`). Pure functions over arrays."""
