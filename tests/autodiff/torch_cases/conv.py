"""Convolution and pooling: the random programs of test_against_torch.py compare them; these are the rest."""

NO_TORCH = {
    "window_select": "max pooling's forward rule, internal: compared through max_pool_windows' JVP",
    "window_spread": "max pooling's reverse rule, internal: compared through max_pool_windows' VJP",
}
