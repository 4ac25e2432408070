"""Provider clients behind one Protocol, the model catalogue, and the error tree."""
