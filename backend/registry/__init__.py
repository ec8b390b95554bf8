"""The registry: organisations, methodologies, scenarios, the conversion rule, and the
catalogue loader that fills them."""
