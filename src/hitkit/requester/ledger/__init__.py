"""The project ledger, `.hitkit/ledger.sqlite`: every batch, row, HIT, assignment, answer, decision, bonus and
event of a project, written before and after each call to the endpoint, so a crash loses nothing and a re-run
does exactly the work that is left. `store.open_ledger(path)` gives an engine at the newest schema."""
