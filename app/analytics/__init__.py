"""Pure analytics: the NYSE session calendar, cluster performance vs SPY, market buy/sell ratios."""
