package catalog

// ScrapedText is scraped.txt, for the external tests.
var ScrapedText = scrapedText
