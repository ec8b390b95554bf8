"""The points mall: items, orders, redemption, settlement."""
