"""The fraud watch (issue 15, I-10): rules over the recent uses, cases through the fraud-case
machine, the store's payouts held while its case is under review."""
