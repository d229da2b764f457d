mod ecr;
