"""`studio`: the command-line client of the studio, in the shape of Azure's `az ml`."""
