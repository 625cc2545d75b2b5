"""`hitkit demo`: the whole product on one machine in under a minute. A server starts in-process, a simulated
crowd labels the iris flowers (drawn locally from their measurements), disagreements get more workers until two
agree, a model is trained on the crowd's labels, and its least confident predictions go back to the crowd.

`iris_items` makes the items and their pictures; `annotation_loop` runs the loop (through the MTurk API and the
worker API, like any requester and crowd would)."""
