from lenet_edge.cli import main

main()
