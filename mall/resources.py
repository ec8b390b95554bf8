"""HTTP resources of the mall (filled in by the mall work)."""

blueprints: list = []
