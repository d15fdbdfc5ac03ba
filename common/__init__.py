"""Small pieces shared by every package: user-facing errors and unit parsing."""
