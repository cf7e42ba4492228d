"""The one service layer every shell uses: scope checks, validation, CSV, views."""
