"""The centre's decisions (Art. 5-16): every methodology, revision, scenario, project,
deregistration and issuance is an application that passes its type's steps (pre-review,
expert opinions, a public notice of at least 5 working days, objections, a decision),
with a public history."""
