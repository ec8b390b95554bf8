"""Sanctions (Art. 24): freezing an organisation or a resident who broke the rules,
and unfreezing them. The organisations' sanctions are public."""
