"""Jobs of the activity path: ingesting async batches, accrual, raw-data retention."""
