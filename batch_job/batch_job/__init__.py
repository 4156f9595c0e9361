"""The image-embedding job: ResNet-18 vectors for images, locally or on AWS Batch."""
