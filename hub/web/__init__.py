"""Browser routes: the OAuth callback and the Login URI (the merchant pages come with them)."""
