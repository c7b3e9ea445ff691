//! Building and partly signing the payer's transaction.
