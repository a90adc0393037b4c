"""A provider's CSDS-style referral extract (``sendwatch import referrals``)."""
