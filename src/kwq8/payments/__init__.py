"""Payments: the UPayments (Kuwait, KWD, K-Net and cards) client, request/webhook signing and a
local fake of the UPayments API for tests."""
